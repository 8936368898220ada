"""Benchmark (a): the evaluation stage (one forward pass + every metric) vs a bare mmseg forward.

Baseline, measured in the same run on the same images and batches: ``mmseg.apis.inference_model``
alone (what any evaluation must pay). Candidate: ``segrel.evaluate.evaluate_shard``, which
calls the same inference once per batch and feeds every metric from it. Target ratio <= 1.05.

Usage (after `make demo`, which trains the demo models):
  .venv/bin/python benchmarks/evaluation_overhead.py --model segformer_b0 [--device cpu] [--images 40]
"""

from __future__ import annotations

import argparse
import time

import torch
from mmseg.apis import inference_model

from segrel import datasets
from segrel.evaluate import evaluate_shard
from segrel.models import load_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="segformer_b0")
    parser.add_argument("--models-dir", default="resources/models")
    parser.add_argument("--dataset", default="resources/datasets/cityscapes")
    parser.add_argument("--split", default="val")
    parser.add_argument("--images", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    model = load_model(f"{args.models_dir}/{args.model}/{args.model}.py",
                       f"{args.models_dir}/{args.model}/{args.model}.pth", device=args.device)
    samples = datasets.list_samples("cityscapes", args.dataset, args.split)[: args.images]
    batches = [samples[i : i + args.batch_size] for i in range(0, len(samples), args.batch_size)]

    def bare():
        with torch.no_grad():
            for batch in batches:
                results = inference_model(model, [str(s.image) for s in batch])
                for result in results:  # what a plain mmseg evaluation keeps: the prediction
                    result.pred_sem_seg.data.cpu()

    def full():
        evaluate_shard(model, "cityscapes", samples, batch_size=args.batch_size, calibration_pixels=20_000, seed=0)

    bare()  # warm-up (lazy initialisation, caches)
    timings = {"bare": [], "full": []}
    for _ in range(args.repeats):  # interleaved, so drifting machine load hits both alike
        for name, fn in (("bare", bare), ("full", full)):
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            start = time.perf_counter()
            fn()
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            timings[name].append(time.perf_counter() - start)
    bare_s, full_s = min(timings["bare"]), min(timings["full"])
    print(f"model={args.model} device={args.device} images={len(samples)} batch={args.batch_size}")
    print(f"bare mmseg forward : {bare_s:7.2f} s  ({bare_s / len(samples) * 1000:6.1f} ms/image)")
    print(f"segrel evaluation  : {full_s:7.2f} s  ({full_s / len(samples) * 1000:6.1f} ms/image)")
    print(f"ratio evaluation / forward = {full_s / bare_s:.3f}")


if __name__ == "__main__":
    main()
