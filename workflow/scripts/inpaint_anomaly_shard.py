"""Rule inpaint_anomaly_shard: one shard of an inpainted OOD-object set (or the control set)."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)


from segrel.core import formats
from segrel.core.devices import configure_torch, resolve_device
from segrel.core.io import atomic_directory
from segrel.core.logs import log, progress
from segrel.core.sharding import shard_samples
from segrel.generate.inpainting import InpaintingSettings, anomaly_items, load_models, write_anomaly_shard

configure_torch(snakemake.threads)
params = snakemake.params
spec, anomaly_set = params.dataset, snakemake.wildcards.anomaly_set
device = resolve_device(params.device)
settings = InpaintingSettings.from_params(params.settings)
sources = sorted(formats.list_samples(spec["format"], spec["root"], spec["split"]), key=lambda s: s.name)
items = shard_samples(anomaly_items(params.objects, sources, params.images), int(snakemake.wildcards.shard),
                      int(snakemake.wildcards.shards))
log(f"{anomaly_set}: {len(items)} samples of {len(params.objects)} object(s) on {device}")
models = load_models(params.inpainting, params.detector, params.segmenter, device)
with atomic_directory(snakemake.output[0]) as out:
    table = write_anomaly_shard(out, models, items, set_name=anomaly_set, seed=params.seed, settings=settings,
                                void_square=params.void_square, progress=progress)
log(f"detected {int(table.detected.sum())} of {len(table)}")
