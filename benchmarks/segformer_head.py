"""Benchmark: SegFormer's decode head as mmseg writes it against segrel's low-resolution fusion.

Baseline, measured in the same run: mmseg's ``SegformerHead`` (its fusion 1x1 convolution on the
concatenation of the four levels upsampled to 1/4 resolution). Candidate:
``segrel.models.heads.SegformerHeadLowResFusion``, the same weights, its fusion applied per level
before the upsampling. SegFormer-B0 (mmseg's shipped Cityscapes config as the demo builds it,
randomly initialised) on one CPU thread: one training step (forward, a cross-entropy loss,
backward) on a batch of ``--batch`` 128x256 crops, and the inference of one 128x256 image;
reported: the best time of each over ``--repeats`` interleaved rounds, their ratio, and the
largest difference between the two heads' logits (float rounding only).

Usage: .venv/bin/python benchmarks/segformer_head.py [--repeats 5] [--batch 4]
"""

from __future__ import annotations

import argparse
import copy
import functools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

CONFIG = "segformer/segformer_mit-b0_8xb1-160k_cityscapes-1024x1024.py"


def segformer(head_type: str):
    import torch
    from mmseg.apis import init_model

    from segrel.models.segmentors import demo_model_config

    cfg = demo_model_config(CONFIG, (128, 256), (128, 256), {"model.decode_head.type": head_type})
    torch.manual_seed(0)
    return init_model(cfg, None, device="cpu")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=4)
    args = parser.parse_args()
    import torch
    from timing import interleaved_min

    from segrel.models.segmentors import import_openmmlab

    torch.set_num_threads(1)
    import_openmmlab("mmseg")
    stock, fused = segformer("SegformerHead"), segformer("SegformerHeadLowResFusion")
    fused.load_state_dict(copy.deepcopy(stock.state_dict()))
    models = {"mmseg's SegformerHead (baseline)": stock, "SegformerHeadLowResFusion": fused}
    crops = torch.randn(args.batch, 3, 128, 256)
    labels = torch.randint(0, 19, (args.batch, 32, 64))

    def training_step(model):
        model.train()
        logits = model.decode_head(model.extract_feat(crops))
        torch.nn.functional.cross_entropy(logits, labels).backward()
        model.zero_grad(set_to_none=True)

    def inference(model):
        model.eval()
        with torch.no_grad():
            return model.decode_head(model.extract_feat(crops[:1]))

    difference = (inference(stock) - inference(fused)).abs().max().item()
    for task, function in (("training step", training_step), ("inference, 1 image", inference)):
        times = interleaved_min({name: functools.partial(function, model) for name, model in models.items()},
                                args.repeats)
        baseline, candidate = times.values()
        print(f"{task:20s} {baseline * 1000:7.1f} -> {candidate * 1000:7.1f} ms   ratio {candidate / baseline:.2f}")
    print(f"largest logit difference: {difference:.1e}")


if __name__ == "__main__":
    main()
