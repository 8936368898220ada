"""Rule local_dataset_manifest: the listing of a local dataset (its jobs' input)."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from segrel.core.logs import log
from segrel.data.manifest import write_manifest

files = write_manifest(snakemake.params.root, snakemake.output[0])
log(f"{snakemake.params.root}: {files} files (fingerprint {snakemake.params.fingerprint})")
