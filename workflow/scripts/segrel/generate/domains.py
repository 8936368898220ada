"""Images from label maps with the trained ControlNet (diffusers' pipeline, DDIM sampling).

Each image has its own seed (derived from a base seed and the image's name), so an image does
not depend on which shard or batch produced it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from segrel.core.seeds import image_seed
from segrel.core.settings import SectionSettings
from segrel.generate.controlnet import condition_map, square_crop


def load_pipeline(base: str, controlnet: str, device: str = "cpu"):
    """SD (or SDXL) + ControlNet pipeline with a DDIM scheduler (Loiseau et al.: 25 steps, eta 0)."""
    from diffusers import (
        ControlNetModel,
        DDIMScheduler,
        StableDiffusionControlNetPipeline,
        StableDiffusionXLControlNetPipeline,
    )

    from segrel.generate.conditioning import is_sdxl

    dtype = torch.float16 if device.startswith("cuda") else torch.float32
    if is_sdxl(base):  # SDXL pipelines have no safety checker
        pipeline_class, extra = StableDiffusionXLControlNetPipeline, {}
    else:
        pipeline_class, extra = StableDiffusionControlNetPipeline, {"safety_checker": None,
                                                                    "requires_safety_checker": False}
    pipeline = pipeline_class.from_pretrained(
        base, controlnet=ControlNetModel.from_pretrained(controlnet, dtype=dtype), dtype=dtype, **extra)
    pipeline.scheduler = DDIMScheduler.from_config(pipeline.scheduler.config)
    pipeline.set_progress_bar_config(disable=True)
    return pipeline.to(device)


def generate(pipeline, label_maps: Sequence[np.ndarray], prompts: Sequence[str], seeds: Sequence[int], *,
             steps: int = 25, guidance: float = 8.0, eta: float = 0.0,
             conditioning_scale: float = 1.0, condition: str = "label_ids") -> list[np.ndarray]:
    """One (H, W, 3) uint8 image per square labelIds map, encoded as the ControlNet learnt them
    (``condition``, see controlnet.condition_map); ``conditioning_scale`` multiplies the
    ControlNet's residuals (diffusers' controlnet_conditioning_scale)."""
    conditions = torch.stack([torch.from_numpy(condition_map(m, condition)) for m in label_maps])
    generators = [torch.Generator(device="cpu").manual_seed(int(s)) for s in seeds]
    size = label_maps[0].shape[0]
    images = pipeline(list(prompts), image=conditions, num_inference_steps=steps, guidance_scale=guidance, eta=eta,
                      controlnet_conditioning_scale=conditioning_scale, generator=generators, height=size, width=size,
                      output_type="np").images
    return [(np.clip(image, 0, 1) * 255).round().astype(np.uint8) for image in images]


@dataclass(frozen=True)
class DomainItem:
    """One image to generate: its name, the source sample whose label map and caption condition
    it, and where its square crop sits (:func:`square_crop`'s ``position``)."""

    name: str
    sample: object
    position: float


def domain_items(samples: Sequence, images: int, seed: int) -> list[DomainItem]:
    """``images`` items, each drawing its source label map (with replacement) and the position of
    its square crop at random, as GenVal does; seeded per item, so every shard and the reference
    set draw the same ones. Names: the source's, then the item's index.

    >>> from types import SimpleNamespace as S
    >>> items = domain_items([S(name="a"), S(name="b")], 4, seed=1)
    >>> [item.name for item in items]
    ['a_0000', 'b_0001', 'b_0002', 'a_0003']
    >>> items == domain_items([S(name="a"), S(name="b")], 4, seed=1), 0 <= items[0].position < 1
    (True, True)
    """
    items = []
    for index in range(images):
        rng = np.random.default_rng([seed, index])
        sample = samples[int(rng.integers(len(samples)))]
        items.append(DomainItem(f"{sample.name}_{index:04d}", sample, float(rng.random())))
    return items


@dataclass(frozen=True, kw_only=True)
class DomainGenerationSettings(SectionSettings):
    """``generation.domain_generation``: how the domain images are generated (the
    generate_domain_shard rule's ``params.settings``)."""

    SECTION = "generation.domain_generation"

    source_set: str  # caption set whose label maps and captions condition generation
    images: int  # images per domain, each from a random source map and crop (domain_items)
    shards: int  # jobs per domain
    batch_size: int  # images per pipeline call
    steps: int  # DDIM steps
    guidance: float  # classifier-free guidance scale
    eta: float  # DDIM eta
    conditioning_scale: float  # ControlNet residual scale (diffusers' controlnet_conditioning_scale)
    seed: int  # of the source maps and crops drawn (domain_items) and, with (domain, name), of each image
    device: str  # "auto", "cpu" or "cuda"


def write_domain_shard(out, pipeline, items, captions, domain: str, *, resolution: int, condition: str,
                       settings: DomainGenerationSettings, progress=None) -> None:
    """Generate ``items`` in ``domain`` at ``resolution`` px into a Cityscapes-layout folder
    (split val): the image, and as ground truth the conditioning label map (labelIds and train ids)."""
    from segrel.core.formats import read_ids
    from segrel.generate.captions import prompt

    batch_size = settings.batch_size
    batches = [items[i : i + batch_size] for i in range(0, len(items), batch_size)]
    for batch in progress(batches) if progress else batches:
        maps = [square_crop(read_ids(item.sample.label), resolution, item.position) for item in batch]
        prompts = [prompt(captions[item.sample.name], domain) for item in batch]
        seeds = [image_seed(settings.seed, domain, item.name) for item in batch]
        images = generate(pipeline, maps, prompts, seeds, steps=settings.steps, guidance=settings.guidance,
                          eta=settings.eta, conditioning_scale=settings.conditioning_scale, condition=condition)
        for item, label_ids, image in zip(batch, maps, images):
            _write_sample(out, item.name, item.sample.group, image, label_ids)


def write_reference(out, items, *, resolution: int) -> None:
    """The real images of ``items`` (:func:`domain_items`) cut and resized exactly as
    generation cuts their label maps, with those maps, in the same layout: what a segmenter scores
    on them is the reference of label-map fidelity (its mIoU on the generated images over this)."""
    from segrel.core.formats import read_ids, read_image

    for item in items:
        sample = item.sample
        _write_sample(out, item.name, sample.group, square_crop(read_image(sample.image), resolution, item.position),
                      square_crop(read_ids(sample.label), resolution, item.position))


def _write_sample(out, name: str, city: str, image: np.ndarray, label_ids: np.ndarray) -> None:
    """One image and its labelIds / train ids in Cityscapes layout (split val)."""
    from segrel.core import labels as lb
    from segrel.core.io import save_png

    save_png(out / "leftImg8bit" / "val" / city / f"{name}_leftImg8bit.png", image)
    gt = out / "gtFine" / "val" / city
    save_png(gt / f"{name}_gtFine_labelIds.png", label_ids)
    save_png(gt / f"{name}_gtFine_labelTrainIds.png", lb.to_train_ids(label_ids, lb.CITYSCAPES_ID_TO_TRAINID))
