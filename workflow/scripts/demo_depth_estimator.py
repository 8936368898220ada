"""Rule demo_depth_estimator: the demo's tiny metric depth model, trained on its own Cityscapes
train split and true depth (the demo cannot download a real one)."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from segrel.core import formats
from segrel.core.devices import configure_torch
from segrel.core.logs import log
from segrel.stress.depth_estimation import DemoEstimatorSettings, train_demo_estimator

configure_torch(snakemake.threads)
settings = DemoEstimatorSettings.from_params(snakemake.params.settings)
samples = formats.list_samples("cityscapes", snakemake.params.data_root, "train")
log(f"{len(samples)} training images; {settings}")
train_demo_estimator(samples, settings, snakemake.output[0], log=log)
