"""Rule train_demo_detector: train one demo detector with mmdet's runner, save it like a zoo model."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)
sys.stdout = sys.stderr  # mmengine logs to stdout

import torch

from segrel.core.devices import use_free_gpu
from segrel.detect.detectors import DetectorTrainingSettings, train_demo_detector

torch.set_num_threads(snakemake.threads)
use_free_gpu()  # on a multi-GPU machine: a GPU no other job holds (mmengine says just 'cuda')
settings = DetectorTrainingSettings.from_params(snakemake.params.settings)
train_demo_detector(snakemake.output.config, snakemake.output.checkpoint, settings,
                    ann_file=snakemake.params.ann_file, data_root=snakemake.params.data_root)
