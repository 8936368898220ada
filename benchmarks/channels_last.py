"""Benchmark: the evaluation of a segmentor on CPU in the layout load_model gives it.

Baseline, measured in the same run: the evaluation (``evaluate_shard``: mmseg's inference and
every metric) of a model with PyTorch's default NCHW weights. Candidate: the same model after
``segrel.models.segmentors.cpu_channels_last`` (what ``load_model`` returns on CPU). Four of
mmseg's shipped Cityscapes configs, as the demo builds them (BN for SyncBN; the shipped heads,
not the demo zoo's narrowed ones), randomly initialised (the layout, not the weights, sets the
speed), are evaluated on demo Cityscapes images at 128x256, one thread, the two layouts in turn
for ``--repeats`` rounds (``timing.interleaved_min``); reported per model: the best time per
image of each, their ratio, and whether both give the same mIoU.

Usage: .venv/bin/python benchmarks/channels_last.py [--repeats 3] [--images 8]
"""

from __future__ import annotations

import argparse
import copy
import functools
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

CONFIGS = {
    "segformer_b0": "segformer/segformer_mit-b0_8xb1-160k_cityscapes-1024x1024.py",
    "upernet_r18": "upernet/upernet_r18_4xb2-40k_cityscapes-512x1024.py",
    "deeplabv3plus_r18": "deeplabv3plus/deeplabv3plus_r18-d8_4xb2-80k_cityscapes-512x1024.py",
    "bisenetv2": "bisenetv2/bisenetv2_fcn_4xb4-160k_cityscapes-1024x1024.py",
}


def model_of(config: str):
    import torch
    from mmseg.apis import init_model

    from segrel.models.segmentors import demo_model_config

    torch.manual_seed(0)
    return init_model(demo_model_config(config, (128, 256), (128, 256)), None, device="cpu").eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--images", type=int, default=8)
    args = parser.parse_args()
    import torch
    from timing import interleaved_min

    from segrel.core import formats
    from segrel.data.demo.writers import write_cityscapes
    from segrel.evaluate.evaluation import evaluate_shard
    from segrel.evaluate.metrics import miou
    from segrel.models.segmentors import cpu_channels_last, import_openmmlab

    torch.set_num_threads(1)
    import_openmmlab("mmseg")
    mious = {}  # by layout, of the model being measured

    def evaluate(layout, model, samples):
        state = evaluate_shard(model, "cityscapes", samples, batch_size=4, calibration_pixels=10000, seed=0)
        mious[layout] = miou(state.confusion)

    with tempfile.TemporaryDirectory() as folder:
        write_cityscapes(Path(folder), seed=0, height=128, width=256, cities={"val": {"frankfurt": args.images}})
        samples = formats.list_samples("cityscapes", folder, "val")
        for name, config in CONFIGS.items():
            default = model_of(config)
            models = {"NCHW (baseline)": default, "channels-last": cpu_channels_last(copy.deepcopy(default))}
            times = interleaved_min({layout: functools.partial(evaluate, layout, model, samples)
                                     for layout, model in models.items()}, args.repeats)
            baseline, candidate = (seconds / len(samples) * 1000 for seconds in times.values())
            same = "same mIoU" if abs(mious["NCHW (baseline)"] - mious["channels-last"]) < 1e-6 else "mIoU DIFFERS"
            ratio = candidate / baseline
            print(f"{name:18s} {baseline:6.1f} -> {candidate:6.1f} ms an image   ratio {ratio:.2f}   {same}")


if __name__ == "__main__":
    main()
