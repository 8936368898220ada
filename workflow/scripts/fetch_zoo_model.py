"""Rule fetch_zoo_model: a zoo model's inference config and verified checkpoint."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from segrel.core.logs import log
from segrel.models.zoo import ZooModel, prepare

prepare(ZooModel(**snakemake.params.model), snakemake.output.config, snakemake.output.checkpoint,
        mirror=snakemake.params.mirror, log=log)
