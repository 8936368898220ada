"""BLIP captions of a dataset's images (the "BLIP caption" part of CLIP-interrogator, which
Loiseau et al. use: one caption per image, greedy decoding, at most 32 new tokens)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from PIL import Image


def load_captioner(model: str, device: str = "cpu"):
    """(processor, model) from a hub id, a Hugging Face cache or a local directory."""
    from transformers import BlipForConditionalGeneration, BlipProcessor

    processor = BlipProcessor.from_pretrained(model)
    captioner = BlipForConditionalGeneration.from_pretrained(model).to(device).eval()
    return processor, captioner


def caption_images(paths: Sequence, processor, captioner, *, batch_size: int = 8, max_new_tokens: int = 32,
                   progress: Callable | None = None) -> list[str]:
    """One caption per image, in order."""
    batches = [paths[i : i + batch_size] for i in range(0, len(paths), batch_size)]
    captions = []
    with torch.no_grad():
        for batch in progress(batches) if progress else batches:
            images = [Image.open(path).convert("RGB") for path in batch]
            inputs = processor(images=images, return_tensors="pt").to(captioner.device)
            tokens = captioner.generate(**inputs, max_new_tokens=max_new_tokens, do_sample=False, num_beams=1)
            captions += [text.strip() for text in processor.batch_decode(tokens, skip_special_tokens=True)]
    return captions


def prompt(caption: str, domain: str) -> str:
    """Loiseau et al.'s domain prompt.

    >>> prompt("a city street with cars", "fog")
    'a city street with cars, in fog'
    """
    return f"{caption}, in {domain}"
