"""Rule plot_domain_samples: a few label maps and their image in every generated domain."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)


from segrel.core import formats
from segrel.core import labels as lb
from segrel.core.captions import read_captions
from segrel.core.figures import write_figure
from segrel.generate.domains import center_square
from segrel.generate.figures import generation_grid_figure

spec = snakemake.params.dataset
captions = read_captions(snakemake.input.captions)
domains = dict(zip(snakemake.params.domains.values(), snakemake.input.domains))  # domain -> dataset root
generated = {domain: {s.name: s for s in formats.list_samples("cityscapes", root, "val")}
             for domain, root in domains.items()}
sources = sorted(formats.list_samples(spec["format"], spec["root"], spec["split"]), key=lambda s: s.name)
shown = [s for s in sources if all(s.name in images for images in generated.values())][: snakemake.params.images]
rows = []
for sample in shown:
    row = {"name": sample.name, "caption": captions[sample.name],
           "label map": lb.ID_COLORS[center_square(formats.read_ids(sample.label), snakemake.params.resolution)]}
    row.update({domain: formats.read_image(images[sample.name].image) for domain, images in generated.items()})
    rows.append(row)
figure, data = generation_grid_figure(rows, ["label map", *generated])
write_figure(figure, data, snakemake.output)
