"""Geometry of Loiseau et al.'s OOD-object inpainting (reference code valeoai/GenVal).

A square of side U[256, 512] px (at Cityscapes' 1024x2048) is placed in the lower 3/4 of the
image; the crop given to the inpainting model is 1.5x that side around it (context), resized
to 512; the mask is the square, blurred with a 128 px box filter (at 512) so the object blends
in; only the inner square of the result is pasted back (RePaint-style: the context is only
there to condition). Sizes scale with the image, so the demo's small images keep the same
proportions.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageFilter

REFERENCE_HEIGHT = 1024  # Cityscapes: the sizes below are in pixels at this height
SIDE_RANGE = (256, 512)
CONTEXT_SCALE = 1.5
MODEL_SIZE = 512  # side of the crop the inpainting model sees
MASK_BLUR = 128  # box-blur size in model pixels


@dataclass(frozen=True)
class Box:
    top: int
    left: int
    side: int

    @property
    def pil(self) -> tuple[int, int, int, int]:
        """(left, upper, right, lower) for PIL's crop."""
        return self.left, self.top, self.left + self.side, self.top + self.side


def place_square(height: int, width: int, rng: np.random.Generator, side_range=SIDE_RANGE) -> Box:
    """A square of side U[side_range] (scaled to the image height) inside the lower 3/4.

    >>> box = place_square(1024, 2048, np.random.default_rng(0))
    >>> 256 <= box.side <= 512 and box.top >= 256 and box.top + box.side <= 1024
    True
    """
    scale = height / REFERENCE_HEIGHT
    low, high = (max(1, round(s * scale)) for s in side_range)
    side = int(rng.integers(low, high + 1))
    top_min = height // 4
    if side > height - top_min or side > width:
        raise ValueError(f"a {side} px square does not fit in the lower 3/4 of a {height}x{width} image")
    top = int(rng.integers(top_min, height - side + 1))
    left = int(rng.integers(0, width - side + 1))
    return Box(top, left, side)


def context_box(square: Box, height: int, width: int, scale: float = CONTEXT_SCALE) -> Box:
    """The square crop of side ``scale`` x the square's, centred on it and shifted to stay
    inside the image (its side is capped by the image's shorter side).

    >>> context_box(Box(top=900, left=0, side=100), 1024, 2048)
    Box(top=874, left=0, side=150)
    """
    side = min(round(square.side * scale), height, width)
    centre_y, centre_x = square.top + square.side / 2, square.left + square.side / 2
    top = int(np.clip(round(centre_y - side / 2), 0, height - side))
    left = int(np.clip(round(centre_x - side / 2), 0, width - side))
    return Box(top, left, side)


def inpainting_mask(square: Box, context: Box, size: int = MODEL_SIZE, blur: int = MASK_BLUR) -> Image.Image:
    """Greyscale mask of the square inside the context crop, at the model's size, box-blurred
    (``blur`` model pixels); white = repaint."""
    scale = size / context.side
    mask = Image.new("L", (size, size), 0)
    top, left = (square.top - context.top) * scale, (square.left - context.left) * scale
    inner = (round(left), round(top), round(left + square.side * scale), round(top + square.side * scale))
    mask.paste(255, inner)
    # PIL's BoxBlur radius r averages a (2r + 1) box
    return mask.filter(ImageFilter.BoxBlur(max(0, (blur - 1) // 2))) if blur > 1 else mask


def paste_square(image: Image.Image, inpainted_context: Image.Image, square: Box, context: Box) -> Image.Image:
    """``image`` with only the square part of the inpainted context crop pasted back."""
    result = image.copy()
    restored = inpainted_context.resize((context.side, context.side), Image.BICUBIC)
    offset = (square.left - context.left, square.top - context.top)
    inner = restored.crop((offset[0], offset[1], offset[0] + square.side, offset[1] + square.side))
    result.paste(inner, (square.left, square.top))
    return result


def inpaint_object(pipeline, image: Image.Image, square: Box, prompt: str, *, seed: int, steps: int = 25,
                   guidance: float = 15.0, size: int = MODEL_SIZE, blur: int = MASK_BLUR) -> Image.Image:
    """Paint ``prompt`` into ``square`` of ``image`` with an SD inpainting pipeline: the context
    crop at ``size`` px, the blurred square mask, then only the square pasted back."""
    import torch

    context = context_box(square, image.height, image.width)
    crop = image.crop(context.pil).resize((size, size), Image.BICUBIC)
    mask = inpainting_mask(square, context, size, blur)
    painted = pipeline(prompt=prompt, image=crop, mask_image=mask, height=size, width=size,
                       num_inference_steps=steps, guidance_scale=guidance,
                       generator=torch.Generator().manual_seed(seed)).images[0]
    return paste_square(image, painted, square, context)


def detect_object(detector, detector_processor, segmenter, segmenter_processor, image: Image.Image, text: str, *,
                  box_threshold: float = 0.25, text_threshold: float = 0.25) -> np.ndarray | None:
    """Boolean mask of ``text`` in ``image``: Grounding DINO's best box, then SAM's best of its
    multimask outputs for that box. None when nothing passes the thresholds (the sample is
    then unusable)."""
    import torch

    query = text.lower().strip().rstrip(".") + "."  # Grounding DINO's phrase format
    inputs = detector_processor(images=image, text=query, return_tensors="pt")
    with torch.no_grad():
        outputs = detector(**inputs)
    detections = detector_processor.post_process_grounded_object_detection(
        outputs, inputs.input_ids, threshold=box_threshold, text_threshold=text_threshold,
        target_sizes=[(image.height, image.width)])[0]
    if len(detections["scores"]) == 0:
        return None
    box = detections["boxes"][int(detections["scores"].argmax())].tolist()
    prompt = segmenter_processor(images=image, input_boxes=[[box]], return_tensors="pt")
    with torch.no_grad():
        predicted = segmenter(**prompt, multimask_output=True)
    masks = segmenter_processor.post_process_masks(predicted.pred_masks, prompt["original_sizes"],
                                                   prompt["reshaped_input_sizes"])[0][0]  # (3, H, W)
    best = int(predicted.iou_scores[0, 0].argmax())
    return masks[best].numpy().astype(bool)
