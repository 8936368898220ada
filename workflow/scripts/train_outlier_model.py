"""Rule train_outlier_model: fine-tune outlier_training.model with RbA's loss and pasted objects."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)
sys.stdout = sys.stderr  # mmengine logs to stdout

import torch

from segrel.core.devices import use_free_gpu
from segrel.models.outliers import OutlierTrainingSettings, train_outlier_model

torch.set_num_threads(snakemake.threads)
use_free_gpu()
train_outlier_model(snakemake.input.config, snakemake.input.checkpoint,
                    OutlierTrainingSettings.from_params(snakemake.params.settings),
                    data_root=snakemake.params.data_root, objects=snakemake.input.objects,
                    config_out=snakemake.output.config, checkpoint_out=snakemake.output.checkpoint)
