"""Benchmark (a): the evaluation stage (one forward pass + every metric) vs a bare mmseg forward.

Baseline, measured in the same run on the same images and batches: ``mmseg.apis.inference_model``
alone (what any evaluation must pay). Candidate: ``segrel.evaluate.evaluation.evaluate_shard``, which
calls the same inference once per batch and feeds every metric from it. Target ratio <= 1.05.

Two resolutions:
- ``demo``: the demo's own 256x512 Cityscapes val images, at the model's demo test scale;
- ``paper``: freshly generated 1024x2048 images (Cityscapes' size) run at mmseg's zoo test scale
  (2048, 1024), as the paper study does. Calibration samples a fixed number of pixels per image
  (RELIS: 20,000), so its cost is constant while the forward pass grows with the image.

Usage (after `make demo`, which trains the demo models):
  .venv/bin/python benchmarks/evaluation_overhead.py --model segformer_b0 [--resolution paper] [--device cpu]
"""

from __future__ import annotations

import argparse
import tempfile

import torch
from mmengine import Config
from mmseg.apis import inference_model
from timing import interleaved_min  # benchmarks/timing.py

from segrel.core import formats
from segrel.data.demo.writers import write_cityscapes
from segrel.evaluate.evaluation import evaluate_shard
from segrel.models.segmentors import load_model

PAPER_SIZE = (1024, 2048)  # Cityscapes (height, width)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="segformer_b0")
    parser.add_argument("--models-dir", default="resources/models")
    parser.add_argument("--dataset", default="resources/datasets/cityscapes", help="demo resolution only")
    parser.add_argument("--resolution", choices=("demo", "paper"), default="demo")
    parser.add_argument("--images", type=int, default=None, help="default: 40 (demo), 8 (paper)")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--calibration-pixels", type=int, default=20_000)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    config = Config.fromfile(f"{args.models_dir}/{args.model}/{args.model}.py")
    with tempfile.TemporaryDirectory(prefix="segrel-bench-") as scratch:
        if args.resolution == "paper":
            images = args.images or 8
            height, width = PAPER_SIZE
            write_cityscapes(scratch, seed=0, height=height, width=width, cities={"val": {"frankfurt": images}})
            dataset = scratch
            for step in config.test_pipeline:  # the zoo configs' test scale
                if step["type"] == "Resize":
                    step["scale"] = (width, height)
        else:
            images, dataset = args.images or 40, args.dataset
        model = load_model(config, f"{args.models_dir}/{args.model}/{args.model}.pth", device=args.device)
        samples = formats.list_samples("cityscapes", dataset, "val")[:images]
        ratio = compare(model, samples, args)
    print(f"ratio evaluation / forward = {ratio:.3f}")


def compare(model, samples, args) -> float:
    batches = [samples[i : i + args.batch_size] for i in range(0, len(samples), args.batch_size)]

    def bare():
        with torch.no_grad():
            for batch in batches:
                results = inference_model(model, [str(s.image) for s in batch])
                for result in results:  # what a plain mmseg evaluation keeps: the prediction
                    result.pred_sem_seg.data.cpu()

    def full():
        evaluate_shard(model, "cityscapes", samples, batch_size=args.batch_size,
                       calibration_pixels=args.calibration_pixels, seed=0)

    bare()  # warm-up (lazy initialisation, caches)
    best = interleaved_min({"bare": bare, "full": full}, args.repeats, args.device)
    bare_s, full_s = best["bare"], best["full"]
    print(f"model={args.model} device={args.device} resolution={args.resolution} images={len(samples)} "
          f"batch={args.batch_size} calibration_pixels={args.calibration_pixels}")
    print(f"bare mmseg forward : {bare_s:7.2f} s  ({bare_s / len(samples) * 1000:7.1f} ms/image)")
    print(f"segrel evaluation  : {full_s:7.2f} s  ({full_s / len(samples) * 1000:7.1f} ms/image)")
    return full_s / bare_s


if __name__ == "__main__":
    main()
