"""Rule plot_inpainting_samples: the first inpainted samples with their square and object mask."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from pathlib import Path

import pandas as pd

from segrel.core import formats
from segrel.core.figures import write_figure
from segrel.generate.figures import inpainting_samples_figure

root = Path(snakemake.input.data[0])
table = pd.read_csv(root / "samples.csv", keep_default_na=False).set_index("image")
rows = []
for sample in formats.list_samples(formats.GENERATED_ANOMALY_FORMAT, root, "validation")[: snakemake.params.images]:
    rows.append({"name": sample.name, "image": formats.read_image(sample.image),
                 "label": formats.read_ids(sample.label), **table.loc[sample.name].to_dict()})
figure, data = inpainting_samples_figure(rows)
write_figure(figure, data, snakemake.output)
