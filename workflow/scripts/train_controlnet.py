"""Rule train_controlnet: ControlNet on (image, label map, caption), SD frozen."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from pathlib import Path

from segrel.core import formats
from segrel.core.captions import read_captions
from segrel.core.devices import configure_torch, use_free_gpu
from segrel.core.logs import log
from segrel.generate.controlnet import ControlNetSettings, TrainingExample, train_controlnet

configure_torch(snakemake.threads)
use_free_gpu()  # on a multi-GPU machine: a GPU no other job holds (accelerate says just 'cuda')
spec, settings = snakemake.params.dataset, ControlNetSettings.from_params(snakemake.params.settings)
captions = read_captions(snakemake.input.captions)
samples = formats.list_samples(spec["format"], spec["root"], spec["split"])
missing = [s.name for s in samples if s.name not in captions.index]
if missing:
    raise ValueError(f"{len(missing)} training images have no caption in {snakemake.input.captions} "
                     f"(e.g. {missing[0]}): re-run caption_images")
examples = [TrainingExample(s.image, Path(s.label), captions[s.name]) for s in samples]
log(f"{len(examples)} training examples; base {snakemake.params.base}; {settings}")
train_controlnet(snakemake.params.base, examples, Path(snakemake.output[0]), Path(snakemake.params.work_dir), settings,
                 log=log)
