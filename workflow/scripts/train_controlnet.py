"""Rule train_controlnet: ControlNet on (image, label map, caption), SD frozen."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from pathlib import Path  # noqa: E402

import pandas as pd  # noqa: E402

from segrel import configure_torch, datasets, use_free_gpu  # noqa: E402
from segrel.controlnet import TrainingExample, train_controlnet  # noqa: E402

configure_torch(snakemake.threads)
use_free_gpu()  # on a multi-GPU machine: a GPU no other job holds (accelerate says just 'cuda')
spec, settings = snakemake.params.dataset, dict(snakemake.params.settings)
captions = pd.read_csv(snakemake.input.captions, keep_default_na=False).set_index("image").caption
samples = datasets.list_samples(spec["format"], spec["root"], spec["split"])
missing = [s.name for s in samples if s.name not in captions.index]
if missing:
    raise ValueError(f"{len(missing)} training images have no caption in {snakemake.input.captions} "
                     f"(e.g. {missing[0]}): re-run caption_images")
examples = [TrainingExample(s.image, Path(s.label), captions[s.name]) for s in samples]
print(f"{len(examples)} training examples; base {snakemake.params.base}; {settings}", file=sys.stderr)
train_controlnet(snakemake.params.base, examples, Path(snakemake.output[0]), Path(snakemake.params.work_dir),
                 resolution=settings["resolution"], learning_rate=settings["learning_rate"],
                 batch_size=settings["batch_size"], gradient_accumulation=settings["gradient_accumulation"],
                 max_steps=settings["max_steps"], mixed_precision=settings["mixed_precision"],
                 checkpoint_every=settings["checkpoint_every"], seed=settings["seed"],
                 log=lambda message: print(message, file=sys.stderr))
