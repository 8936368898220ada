"""Rule plot_domain_samples: a few label maps and their image in every generated domain."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)


from segrel.core import formats
from segrel.core import labels as lb
from segrel.core.captions import read_captions
from segrel.core.figures import write_figure
from segrel.generate.domains import domain_items
from segrel.generate.figures import generation_grid_figure

spec, generated = snakemake.params.dataset, snakemake.params.generated
captions = read_captions(snakemake.input.captions)
domains = dict(zip(snakemake.params.domains.values(), snakemake.input.domains))  # domain -> dataset root
images = {domain: {s.name: s for s in formats.list_samples("cityscapes", root, "val")}
          for domain, root in domains.items()}
sources = sorted(formats.list_samples(spec["format"], spec["root"], spec["split"]), key=lambda s: s.name)
# the first items generated, in every domain from the same map and crop
shown = domain_items(sources, generated["images"], generated["seed"])[: snakemake.params.images]
rows = []
for item in shown:
    label_map = formats.read_ids(next(iter(images.values()))[item.name].label)  # the crop that conditioned them
    row = {"name": item.name, "caption": captions[item.sample.name], "label map": lb.ID_COLORS[label_map]}
    row.update({domain: formats.read_image(samples[item.name].image) for domain, samples in images.items()})
    rows.append(row)
figure, data = generation_grid_figure(rows, ["label map", *images])
write_figure(figure, data, snakemake.output)
