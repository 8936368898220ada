"""Rule stress_scenario_model: one model trained further on one background scenario's copy of the
train split (XImageNet-12's C'(i)), saved as the models stage saves a model."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)
sys.stdout = sys.stderr  # mmengine logs to stdout

from segrel.core.devices import configure_torch, use_free_gpu
from segrel.models.segmentors import TrainingSchedule, finetune_model

configure_torch(snakemake.threads)
use_free_gpu()  # on a multi-GPU machine: a GPU no other job holds (mmengine says just 'cuda')
schedule = TrainingSchedule.from_params(snakemake.params.schedule)
finetune_model(snakemake.input.config, snakemake.input.checkpoint, schedule, data_root=snakemake.params.data_root,
               config_out=snakemake.output.config, checkpoint_out=snakemake.output.checkpoint)
