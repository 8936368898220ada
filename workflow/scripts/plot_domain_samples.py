"""Rule plot_domain_samples: a few label maps and their image in every generated domain."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import pandas as pd  # noqa: E402

from segrel import datasets, labels as lb  # noqa: E402
from segrel.figures import generation_grid_figure, save  # noqa: E402
from segrel.generation import center_square  # noqa: E402
from segrel.io import atomic_file  # noqa: E402

spec = snakemake.params.dataset
captions = pd.read_csv(snakemake.input.captions, keep_default_na=False).set_index("image").caption
domains = dict(zip(snakemake.params.domains.values(), snakemake.input.domains))  # domain -> dataset root
generated = {domain: {s.name: s for s in datasets.list_samples("cityscapes", root, "val")}
             for domain, root in domains.items()}
sources = sorted(datasets.list_samples(spec["format"], spec["root"], spec["split"]), key=lambda s: s.name)
shown = [s for s in sources if all(s.name in images for images in generated.values())][: snakemake.params.images]
rows = []
for sample in shown:
    row = {"name": sample.name, "caption": captions[sample.name],
           "label map": lb.ID_COLORS[center_square(datasets.read_ids(sample.label), snakemake.params.resolution)]}
    row.update({domain: datasets.read_image(images[sample.name].image) for domain, images in generated.items()})
    rows.append(row)
figure, data = generation_grid_figure(rows, ["label map", *generated])
save(figure, snakemake.output.png, snakemake.output.pdf)
with atomic_file(snakemake.output.data) as handle:
    data.to_csv(handle, index=False)
