"""XImageNet-12's AI-generated background, adapted to segmentation: the background (every pixel
outside Cityscapes' thing classes) repainted by the generation stage's Stable Diffusion inpainting
model from a prompt, the objects kept pixel for pixel (:func:`segrel.stress.scenarios.apply_scenario`
puts them back over the painting and makes the unlabelled new background void).

The model paints the whole image at ``resolution`` px height (the width keeps the aspect ratio,
a multiple of 8, as SD's latents need), with the objects as the unmasked context; the painting is
resized back to the image.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from segrel.core.settings import SectionSettings


@dataclass(frozen=True, kw_only=True)
class BackgroundSettings(SectionSettings):
    """How a background is painted (``stress.ai_background`` but its device)."""

    SECTION = "stress.ai_background"

    prompt: str  # what the new background shows
    steps: int  # denoising steps
    guidance: float  # classifier-free guidance scale
    resolution: int  # height the model paints at (a multiple of 8)


def painting_size(height: int, width: int, resolution: int) -> tuple[int, int]:
    """(height, width) the model paints at: ``resolution`` high, the image's aspect ratio, the
    width rounded to a multiple of 8.

    >>> painting_size(1024, 2048, 512), painting_size(128, 256, 128), painting_size(1080, 1920, 512)
    ((512, 1024), (128, 256), (512, 912))
    """
    return resolution, max(8, round(resolution * width / height / 8) * 8)


def paint_background(pipeline, image: np.ndarray, objects: np.ndarray, settings: BackgroundSettings, *,
                     seed: int) -> np.ndarray:
    """The (H, W, 3) uint8 painting of ``image`` whose background (``~objects``) the inpainting
    ``pipeline`` repaints from ``settings.prompt`` (seeded); its object pixels are the model's
    too: the caller keeps the original objects."""
    import torch

    height, width = image.shape[:2]
    paint_height, paint_width = painting_size(height, width, settings.resolution)
    source = Image.fromarray(image).resize((paint_width, paint_height), Image.BICUBIC)
    mask = Image.fromarray(np.where(objects, 0, 255).astype(np.uint8)).resize((paint_width, paint_height),
                                                                              Image.NEAREST)
    painted = pipeline(prompt=settings.prompt, image=source, mask_image=mask, height=paint_height,
                       width=paint_width, num_inference_steps=settings.steps, guidance_scale=settings.guidance,
                       generator=torch.Generator().manual_seed(seed)).images[0]
    return np.asarray(painted.convert("RGB").resize((width, height), Image.BICUBIC))


def background_painter(pipeline, settings: BackgroundSettings):
    """``paint(image, objects, seed)`` for :func:`segrel.stress.testsets.write_stressed_set`."""
    return lambda image, objects, seed: paint_background(pipeline, image, objects, settings, seed=seed)
