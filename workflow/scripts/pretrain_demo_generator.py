"""Rule pretrain_demo_generator: pre-train one tiny generator on the captioned scenes."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from segrel.core.devices import configure_torch
from segrel.core.logs import log
from segrel.generate.demo.pretraining import pretrain

configure_torch(snakemake.threads)
pretrain(snakemake.wildcards.generator, snakemake.input.initial, snakemake.input.data, snakemake.output[0],
         settings=snakemake.params.settings, stable_diffusion=(snakemake.input.stable_diffusion or [None])[0],
         log=log)
