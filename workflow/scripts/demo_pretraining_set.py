"""Rule demo_pretraining_set: captioned procedural scenes, the demo generators' pre-training data."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from segrel.generate.demo.pretraining import write_pretraining_set

write_pretraining_set(snakemake.output[0], seed=snakemake.params.seed, height=snakemake.params.height,
                      width=snakemake.params.width, images=snakemake.params.images,
                      conditions=snakemake.params.conditions)
