"""Rule demo_generator: build one tiny generator (random, seeded) in the Hugging Face layout."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from segrel.core.logs import log
from segrel.generate.demo.builders import build

build(snakemake.wildcards.generator, snakemake.output[0], seed=snakemake.params.seed)
log(f"built {snakemake.wildcards.generator} into {snakemake.output[0]}")
