"""Benchmark: the domain-generation rule's work vs the bare diffusers ControlNet pipeline.

Baseline, measured in the same run on the same label maps and settings: one
``StableDiffusionControlNetPipeline`` call per image (DDIM, the configured steps and guidance),
conditions prepared beforehand. Candidate: ``segrel.generate.domains.write_domain_shard``, which
also reads and crops each label map, builds the prompt, seeds the image and writes the image
and its ground truth as PNGs. Reports images/s of both and the ratio.

Usage (after `snakemake --cores 2 generate`, which builds the generators and the ControlNet):
  .venv/bin/python benchmarks/generation_overhead.py [--images 6] [--resolution 128] [--steps 25]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import torch
from timing import interleaved_min  # benchmarks/timing.py

from segrel.core import formats
from segrel.core.devices import configure_torch
from segrel.core.seeds import image_seed
from segrel.generate.controlnet import condition_map
from segrel.generate.domains import (
    DomainGenerationSettings,
    center_square,
    domain_items,
    load_pipeline,
    write_domain_shard,
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="resources/generators/stable_diffusion")
    parser.add_argument("--controlnet", default="resources/controlnet/model")
    parser.add_argument("--dataset", default="resources/datasets/cityscapes")
    parser.add_argument("--images", type=int, default=6)
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--guidance", type=float, default=8.0)
    parser.add_argument("--condition", default="palette", help="the ControlNet's (generation.controlnet.condition)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1, help="CPU threads, as the rule's job gets")
    args = parser.parse_args()
    configure_torch(args.threads)  # as the rule does (subnormals flushed)

    pipeline = load_pipeline(args.base, args.controlnet, args.device)
    samples = sorted(formats.list_samples("cityscapes", args.dataset, "val"), key=lambda s: s.name)
    items = domain_items(samples, args.images)
    captions = {sample.name: "a city street" for _, sample in items}
    maps = [center_square(formats.read_ids(sample.label), args.resolution) for _, sample in items]
    conditions = [torch.from_numpy(condition_map(m, args.condition))[None] for m in maps]
    settings = DomainGenerationSettings(source_set="cityscapes_val", images=args.images, shards=1, batch_size=1,
                                        steps=args.steps, guidance=args.guidance, eta=0.0, conditioning_scale=1.0,
                                        seed=0, device=args.device)

    def bare():
        for (name, _), condition in zip(items, conditions):
            pipeline(["a city street, in fog"], image=condition, num_inference_steps=args.steps,
                     guidance_scale=args.guidance, eta=0.0, height=args.resolution, width=args.resolution,
                     generator=[torch.Generator().manual_seed(image_seed(0, "fog", name))], output_type="np")

    def rule():
        with tempfile.TemporaryDirectory() as out:
            write_domain_shard(Path(out), pipeline, items, captions, "fog", resolution=args.resolution,
                               condition=args.condition, settings=settings)

    bare()  # warm-up
    best = interleaved_min({"bare": bare, "rule": rule}, args.repeats, args.device)
    bare_s, rule_s = best["bare"], best["rule"]
    print(f"device={args.device} images={len(items)} resolution={args.resolution} steps={args.steps}")
    print(f"bare diffusers pipeline : {len(items) / bare_s:7.3f} images/s")
    print(f"segrel generation rule  : {len(items) / rule_s:7.3f} images/s")
    print(f"ratio rule / bare (time) = {rule_s / bare_s:.3f}")


if __name__ == "__main__":
    main()
