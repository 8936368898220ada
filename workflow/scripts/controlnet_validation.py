"""Rule controlnet_validation: generate from a few val label maps, next to the real images."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import numpy as np
from PIL import Image

from segrel.core import formats
from segrel.core import labels as lb
from segrel.core.captions import read_captions
from segrel.core.devices import resolve_device
from segrel.core.figures import write_figure
from segrel.core.logs import log
from segrel.core.seeds import image_seed
from segrel.generate.controlnet import square_crop
from segrel.generate.domains import generate, load_pipeline
from segrel.generate.figures import generation_grid_figure

spec, validation, size = snakemake.params.dataset, snakemake.params.validation, snakemake.params.resolution
device = resolve_device(snakemake.params.device)
captions = read_captions(snakemake.input.captions)
samples = sorted(formats.list_samples(spec["format"], spec["root"], spec["split"]), key=lambda s: s.name)
samples = samples[: validation["images"]]
maps = [square_crop(formats.read_ids(s.label), size) for s in samples]
pipeline = load_pipeline(snakemake.params.base, snakemake.input.controlnet, device)
images = generate(pipeline, maps, [captions[s.name] for s in samples],
                  [image_seed(snakemake.params.seed, "validation", s.name) for s in samples],
                  steps=validation["steps"], guidance=validation["guidance"], eta=validation["eta"],
                  conditioning_scale=validation["conditioning_scale"], condition=snakemake.params.condition)
rows = []
for sample, label_map, image in zip(samples, maps, images):
    real = square_crop(np.asarray(Image.open(sample.image).convert("RGB")), size)
    rows.append({"name": sample.name, "caption": captions[sample.name], "label map": lb.ID_COLORS[label_map],
                 "generated": image, "real": real})
figure, data = generation_grid_figure(rows, ["label map", "generated", "real"])
write_figure(figure, data, snakemake.output)
log(f"{len(rows)} images generated at {size} px")
