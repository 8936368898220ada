"""Rule plot_inpainting_samples: the first inpainted samples with their square and object mask."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from pathlib import Path  # noqa: E402

import pandas as pd  # noqa: E402

from segrel import datasets  # noqa: E402
from segrel.figures import inpainting_samples_figure, save  # noqa: E402
from segrel.io import atomic_file  # noqa: E402

root = Path(snakemake.input.data[0])
table = pd.read_csv(root / "samples.csv", keep_default_na=False).set_index("image")
rows = []
for sample in datasets.list_samples("smiyc", root, "validation")[: snakemake.params.images]:
    rows.append({"name": sample.name, "image": datasets.read_image(sample.image),
                 "label": datasets.read_ids(sample.label), **table.loc[sample.name].to_dict()})
figure, data = inpainting_samples_figure(rows)
save(figure, snakemake.output.png, snakemake.output.pdf)
with atomic_file(snakemake.output.data) as handle:
    data.to_csv(handle, index=False)
