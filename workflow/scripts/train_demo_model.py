"""Rule train_demo_model: train one demo model with mmseg's runner, save it like a zoo model."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)
sys.stdout = sys.stderr  # mmengine logs to stdout

import torch

from segrel.core.devices import use_free_gpu
from segrel.models.segmentors import DemoTrainingSettings, train_demo_model

torch.set_num_threads(snakemake.threads)
use_free_gpu()  # on a multi-GPU machine: a GPU no other job holds (mmengine says just 'cuda')
settings = DemoTrainingSettings.from_params(snakemake.params.settings)
train_demo_model(snakemake.output.config, snakemake.output.checkpoint, settings, data_root=snakemake.params.data_root,
                 snapshots_out=snakemake.output.snapshots)
