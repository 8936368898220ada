"""Rule stress_dataset: the corrupted copy of one test set (its images corrupted once, its labels
copied), a dataset every model's evaluation reads."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from segrel.core.logs import log, progress
from segrel.stress.testsets import StressedSet, write_stressed_set

spec = StressedSet(**snakemake.params.spec)
log(f"{snakemake.wildcards.dataset}: {spec.name} at severity {spec.severity} of {spec.split}/{spec.subset}")
count = write_stressed_set(spec, snakemake.output[0], progress=progress)
log(f"done: {count} images")
