"""Rules fetch_zoo_model and fetch_detector: a released segmenter's or detector's inference config
(from mmseg's configs, or those of ``params.configs_dir``: mmdet's) and verified checkpoint."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from segrel.core.logs import log
from segrel.models.zoo import ZooModel, prepare

prepare(ZooModel(**snakemake.params.model), snakemake.output.config, snakemake.output.checkpoint,
        mirror=snakemake.params.mirror, log=log, configs_dir=snakemake.params.get("configs_dir"))
