"""Rule domain_reference_dataset: the real images of the generated domains' label maps, cut and
resized as generation cuts the maps (the reference of label-map fidelity)."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from segrel.core import formats
from segrel.core.io import atomic_directory
from segrel.core.logs import log
from segrel.generate.domains import domain_items, write_reference

spec = snakemake.params.dataset
# the same items, in the same order, as generate_domain_shard generates
samples = sorted(formats.list_samples(spec["format"], spec["root"], spec["split"]), key=lambda s: s.name)
items = domain_items(samples, snakemake.params.images, snakemake.params.seed)
with atomic_directory(snakemake.output[0]) as out:
    write_reference(out, items, resolution=snakemake.params.resolution)
log(f"{len(items)} reference images at {snakemake.params.resolution} px")
