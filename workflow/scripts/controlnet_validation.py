"""Rule controlnet_validation: generate from a few val label maps, next to the real images."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from PIL import Image  # noqa: E402

from segrel import resolve_device  # noqa: E402
from segrel import datasets, labels as lb  # noqa: E402
from segrel.figures import generation_grid_figure, save  # noqa: E402
from segrel.generation import center_square, generate, image_seed, load_pipeline  # noqa: E402
from segrel.io import atomic_file  # noqa: E402

spec, validation, size = snakemake.params.dataset, snakemake.params.validation, snakemake.params.resolution
device = resolve_device(snakemake.params.device)
captions = pd.read_csv(snakemake.input.captions, keep_default_na=False).set_index("image").caption
samples = sorted(datasets.list_samples(spec["format"], spec["root"], spec["split"]), key=lambda s: s.name)
samples = samples[: validation["images"]]
maps = [center_square(datasets.read_ids(s.label), size) for s in samples]
pipeline = load_pipeline(snakemake.params.base, snakemake.input.controlnet, device)
images = generate(pipeline, maps, [captions[s.name] for s in samples],
                  [image_seed(snakemake.params.seed, "validation", s.name) for s in samples],
                  steps=validation["steps"], guidance=validation["guidance"], eta=validation["eta"])
rows = []
for sample, label_map, image in zip(samples, maps, images):
    real = center_square(np.asarray(Image.open(sample.image).convert("RGB")), size)
    rows.append({"name": sample.name, "caption": captions[sample.name], "label map": lb.ID_COLORS[label_map],
                 "generated": image, "real": real})
figure, data = generation_grid_figure(rows, ["label map", "generated", "real"])
save(figure, snakemake.output.png, snakemake.output.pdf)
with atomic_file(snakemake.output.data) as handle:
    data.to_csv(handle, index=False)
print(f"{len(rows)} images generated at {size} px", file=sys.stderr)
