"""Rule generate_domain_shard: one shard of a synthetic domain in Cityscapes layout."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)


from segrel.core import formats
from segrel.core.captions import read_captions
from segrel.core.devices import configure_torch, resolve_device
from segrel.core.io import atomic_directory
from segrel.core.logs import log, progress
from segrel.core.sharding import shard_samples
from segrel.generate.domains import DomainGenerationSettings, domain_items, load_pipeline, write_domain_shard

configure_torch(snakemake.threads)
spec, settings = snakemake.params.dataset, DomainGenerationSettings.from_params(snakemake.params.settings)
device = resolve_device(settings.device)
captions = read_captions(snakemake.input.captions)
samples = sorted(formats.list_samples(spec["format"], spec["root"], spec["split"]), key=lambda s: s.name)
items = shard_samples(domain_items(samples, settings.images, settings.seed), int(snakemake.wildcards.shard),
                      int(snakemake.wildcards.shards))
log(f"domain {snakemake.wildcards.domain} ('{snakemake.params.text}'): {len(items)} images on {device}")
pipeline = load_pipeline(snakemake.params.base, snakemake.input.controlnet, device)
with atomic_directory(snakemake.output[0]) as out:
    write_domain_shard(out, pipeline, items, captions, snakemake.params.text, resolution=snakemake.params.resolution,
                       condition=snakemake.params.condition, settings=settings, progress=progress)
