"""Benchmark (c): an attacked test set's evaluation vs a bare autograd attack loop.

Baseline, measured in the same run on the same model, images and batches: what any attack must
pay, written directly — the images normalised by hand, ``iterations`` x (the model's test-mode
``inference`` + cross-entropy + ``torch.autograd.grad`` + sign step) and one scoring forward.
Candidate: ``segrel.evaluate.evaluation.evaluate_shard`` on the attacked set (mmseg's test
pipeline, the attack through the model's data preprocessor and postprocessing, the per-iteration
confusion matrices, every metric). Target ratio <= 1.1.

The model is mmseg's config, randomly initialised (the cost of a pass does not depend on the
weights): ``demo`` runs the demo's 128x256 images, ``paper`` 1024x2048 (Cityscapes) at the zoo's
test scale.

Usage: .venv/bin/python benchmarks/attack_overhead.py [--config segformer/...py] [--resolution paper]
       [--method pgd] [--iterations 5] [--device cpu]
"""

from __future__ import annotations

import argparse
import tempfile

import torch
import torch.nn.functional as F
from mmseg.apis import init_model
from timing import interleaved_min  # benchmarks/timing.py

from segrel.core import formats
from segrel.data.demo.writers import write_cityscapes
from segrel.evaluate.evaluation import evaluate_shard
from segrel.models.segmentors import demo_model_config
from segrel.stress.attacks import AttackSettings

SIZES = {"demo": (128, 256), "paper": (1024, 2048)}


def bare_attack(model, batches, settings: AttackSettings):
    """Sign-gradient ascent on the cross-entropy, nothing else (no metrics, no random start)."""
    mean, std = model.data_preprocessor.mean, model.data_preprocessor.std
    for images, labels in batches:
        metas = [{"ori_shape": images.shape[-2:], "img_shape": images.shape[-2:], "pad_shape": images.shape[-2:]}
                 ] * len(images)
        current = images.clone()
        for _ in range(settings.iterations):
            current.requires_grad_(True)
            loss = F.cross_entropy(model.inference((current - mean) / std, metas), labels, ignore_index=255)
            (gradient,) = torch.autograd.grad(loss, current)
            current = (images + (current.detach() + settings.alpha * gradient.sign() - images).clamp(
                -settings.eps, settings.eps)).clamp(0, 255)
        with torch.no_grad():
            model.inference((current - mean) / std, metas).argmax(dim=1).cpu()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="segformer/segformer_mit-b0_8xb1-160k_cityscapes-1024x1024.py")
    parser.add_argument("--resolution", choices=tuple(SIZES), default="demo")
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--method", default="pgd")
    parser.add_argument("--iterations", type=int, default=5)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    height, width = SIZES[args.resolution]
    torch.manual_seed(0)
    model = init_model(demo_model_config(args.config, (height, width), (height, width)), None, device=args.device)
    settings = AttackSettings(args.method, "linf", 8.0, 2.55, args.iterations)
    with tempfile.TemporaryDirectory(prefix="segrel-bench-") as scratch:
        write_cityscapes(scratch, seed=0, height=height, width=width, cities={"val": {"frankfurt": args.images}})
        samples = formats.list_samples("cityscapes", scratch, "val")
        batches = []
        for start in range(0, len(samples), args.batch_size):
            chunk = samples[start : start + args.batch_size]
            images = torch.stack([torch.from_numpy(formats.read_image(s.image).copy()).permute(2, 0, 1) for s in chunk])
            labels = torch.stack([torch.from_numpy(formats.read_label("cityscapes", s.label).astype("int64"))
                                  for s in chunk])
            batches.append((images.float().to(args.device), labels.to(args.device)))
        timings = interleaved_min({
            "bare autograd loop": lambda: bare_attack(model, batches, settings),
            "segrel attacked evaluation": lambda: evaluate_shard(
                model, "cityscapes", samples, batch_size=args.batch_size, calibration_pixels=20_000, seed=0,
                attack=settings),
        }, args.repeats, args.device)
    passes = args.images * (args.iterations + 1)
    print(f"{args.config.split('/')[0]} {height}x{width} on {args.device}, {args.images} images, batch "
          f"{args.batch_size}, {args.method} {args.iterations} iterations ({passes} forward passes, "
          f"{args.images * args.iterations} backward)")
    for name, seconds in timings.items():
        print(f"{name:28s} {seconds:8.2f} s  {seconds / args.images / (args.iterations + 1) * 1000:7.1f} ms per "
              "image-pass")
    ratio = timings["segrel attacked evaluation"] / timings["bare autograd loop"]
    print(f"ratio {ratio:.3f} (target <= 1.1)")


if __name__ == "__main__":
    main()
