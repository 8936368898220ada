"""Rule caption_images: one BLIP caption per image of a dataset split."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import pandas as pd

from segrel.core import formats
from segrel.core.devices import configure_torch, resolve_device
from segrel.core.io import atomic_file
from segrel.core.logs import log, progress
from segrel.generate.captions import caption_images, load_captioner

configure_torch(snakemake.threads)
spec = snakemake.params.dataset
device = resolve_device(snakemake.params.device)
samples = formats.list_samples(spec["format"], spec["root"], spec["split"])
log(f"captioning {len(samples)} images of {spec['dataset']}/{spec['split']} with "
    f"{snakemake.params.captioner} on {device}")
processor, captioner = load_captioner(snakemake.params.captioner, device)
captions = caption_images([s.image for s in samples], processor, captioner, batch_size=snakemake.params.batch_size,
                          max_new_tokens=snakemake.params.max_new_tokens,
                          progress=progress)
table = pd.DataFrame({"image": [s.name for s in samples], "group": [s.group for s in samples], "caption": captions})
with atomic_file(snakemake.output[0]) as handle:
    table.to_csv(handle, index=False)
