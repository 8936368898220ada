"""Rules fetch_url_model and verify_local_model: a user's model, its checkpoint verified."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from segrel.core.logs import log
from segrel.models.external import ExternalModel, prepare

prepare(ExternalModel(**snakemake.params.model), snakemake.output.config, snakemake.output.get("checkpoint"),
        log=log)
