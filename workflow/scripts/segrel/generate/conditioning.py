"""The text conditioning of a Stable Diffusion family pipeline, as its own pipeline computes it,
for the training loops (the demo's pre-training, ControlNet fine-tuning): SD 1.x reads one CLIP
text encoder's last hidden state; SDXL reads two encoders' penultimate hidden states side by
side, plus the second encoder's pooled projection and the size "time ids" as added conditions
(diffusers' ``StableDiffusionXLPipeline.encode_prompt`` and ``_get_add_time_ids``, clip_skip None,
no crop). A ControlNet trained with one conditioning steers the same pipeline at generation.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


def is_sdxl(base: str) -> bool:
    """Whether a pipeline folder or hub id (its model_index.json) is an SDXL one."""
    from diffusers import DiffusionPipeline

    return "XL" in DiffusionPipeline.load_config(base)["_class_name"]


@dataclass
class TextConditioning:
    """Tokenizers and text encoders of one pipeline (one for SD, two for SDXL)."""

    tokenizers: list
    encoders: list

    @classmethod
    def from_pipeline(cls, pipeline) -> TextConditioning:
        """From a loaded pipeline's own parts."""
        if getattr(pipeline, "text_encoder_2", None) is not None:
            return cls([pipeline.tokenizer, pipeline.tokenizer_2], [pipeline.text_encoder, pipeline.text_encoder_2])
        return cls([pipeline.tokenizer], [pipeline.text_encoder])

    @classmethod
    def from_pretrained(cls, base: str) -> TextConditioning:
        """From a pipeline folder or hub id, without loading its UNet or VAE."""
        from transformers import AutoTokenizer, CLIPTextModel, CLIPTextModelWithProjection

        tokenizers = [AutoTokenizer.from_pretrained(base, subfolder="tokenizer", use_fast=False)]
        encoders = [CLIPTextModel.from_pretrained(base, subfolder="text_encoder")]
        if is_sdxl(base):
            tokenizers.append(AutoTokenizer.from_pretrained(base, subfolder="tokenizer_2", use_fast=False))
            encoders.append(CLIPTextModelWithProjection.from_pretrained(base, subfolder="text_encoder_2"))
        return cls(tokenizers, encoders)

    @property
    def xl(self) -> bool:
        return len(self.encoders) == 2

    def tokenize(self, captions: list[str]) -> list[torch.Tensor]:
        """(N, 77) token ids per tokenizer, padded as the pipelines pad them."""
        return [tokenizer(captions, max_length=tokenizer.model_max_length, padding="max_length", truncation=True,
                          return_tensors="pt").input_ids for tokenizer in self.tokenizers]

    def encode(self, ids: list[torch.Tensor], size: int) -> tuple[torch.Tensor, dict | None]:
        """(encoder_hidden_states, added_cond_kwargs) of ``ids`` for ``size`` x ``size`` images;
        added_cond_kwargs is None for SD 1.x."""
        if not self.xl:
            return self.encoders[0](ids[0].to(self.encoders[0].device), return_dict=False)[0], None
        hidden, pooled = [], None
        for encoder, token_ids in zip(self.encoders, ids):
            output = encoder(token_ids.to(encoder.device), output_hidden_states=True)
            if output[0].ndim == 2:  # the projection encoder's pooled text embedding
                pooled = output[0]
            hidden.append(output.hidden_states[-2])
        time_ids = torch.tensor([[size, size, 0, 0, size, size]], dtype=pooled.dtype, device=pooled.device)
        return torch.cat(hidden, dim=-1), {"text_embeds": pooled, "time_ids": time_ids.repeat(len(pooled), 1)}
