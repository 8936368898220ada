"""Rule fetch_zoo_detector: a released mmdet detector's inference config and verified checkpoint."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from segrel.core.logs import log
from segrel.detect.detectors import mmdet_config_dir, resolve_detector
from segrel.models.zoo import prepare

prepare(resolve_detector(snakemake.params.detector), snakemake.output.config, snakemake.output.checkpoint,
        mirror=snakemake.params.mirror, log=log, configs_dir=mmdet_config_dir())
