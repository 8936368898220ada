"""ControlNet on Cityscapes label maps (Loiseau et al. 2024; reference code valeoai/GenVal).

The condition is the single-channel labelIds map scaled to (id + 1) / 34 (not a colour
palette), repeated to 3 channels so that diffusers' ControlNet pipeline takes it like any
control image. Training images are random square crops of side min(H, W), resized (nearest,
image and map alike) to the training resolution. Stable Diffusion stays frozen; only the
ControlNet, initialised from SD's UNet, learns. The loop is the glue of diffusers'
examples/controlnet/train_controlnet.py around accelerate (mixed precision, gradient
accumulation, multi-GPU, checkpoints to resume from).
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

LABEL_ID_LEVELS = 34  # Cityscapes labelIds -1..33 -> (id + 1) / 34 in [0, 1]


def condition_map(label_ids: np.ndarray) -> np.ndarray:
    """(H, W) Cityscapes labelIds -> (H, W) float32 condition (id + 1) / 34.

    >>> [round(float(v), 4) for v in condition_map(np.array([[0, 7], [26, 33]], dtype=np.uint8)).ravel()]
    [0.0294, 0.2353, 0.7941, 1.0]
    """
    return (label_ids.astype(np.float32) + 1.0) / LABEL_ID_LEVELS


def square_crop(image: Image.Image, label_ids: np.ndarray, size: int, rng: np.random.Generator):
    """A random square crop of side min(H, W), resized to ``size`` (nearest for both)."""
    height, width = label_ids.shape
    side = min(height, width)
    top, left = rng.integers(0, height - side + 1), rng.integers(0, width - side + 1)
    box = (int(left), int(top), int(left + side), int(top + side))
    image = image.crop(box).resize((size, size), Image.NEAREST)
    label = Image.fromarray(label_ids).crop(box).resize((size, size), Image.NEAREST)
    return image, np.asarray(label)


@dataclass
class TrainingExample:
    image: Path
    label: Path  # *_gtFine_labelIds.png
    caption: str


class LabelMapDataset(torch.utils.data.Dataset):
    """(pixel_values in [-1, 1], 3-channel condition in [0, 1], caption token ids); the crop of
    item i in epoch e is drawn from a generator seeded by (seed, e, i): resumable, order-free."""

    def __init__(self, examples: list[TrainingExample], tokenizer, size: int, seed: int):
        self.examples, self.tokenizer, self.size, self.seed = examples, tokenizer, size, seed
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int):
        example = self.examples[index]
        rng = np.random.default_rng([self.seed, self.epoch, index])
        image, label = square_crop(Image.open(example.image).convert("RGB"),
                                   np.asarray(Image.open(example.label)), self.size, rng)
        pixels = torch.from_numpy(np.asarray(image, dtype=np.float32) / 127.5 - 1.0).permute(2, 0, 1)
        condition = torch.from_numpy(condition_map(label))[None].expand(3, -1, -1).contiguous()
        ids = self.tokenizer(example.caption, max_length=self.tokenizer.model_max_length, padding="max_length",
                             truncation=True, return_tensors="pt").input_ids[0]
        return {"pixel_values": pixels, "conditioning_pixel_values": condition, "input_ids": ids}


def latest_checkpoint(work_dir: Path) -> tuple[Path | None, int]:
    """The newest ``checkpoint-<step>`` folder of a training run and its step (None, 0 if none)."""
    steps = [(int(m.group(1)), p) for p in Path(work_dir).glob("checkpoint-*")
             if (m := re.fullmatch(r"checkpoint-(\d+)", p.name)) and (p / "done").exists()]
    if not steps:
        return None, 0
    step, path = max(steps)
    return path, step


def run_fingerprint(base: str, examples: list[TrainingExample], settings: dict) -> str:
    """What a checkpoint is only valid for: the base model (a hub id, or a directory's files by
    name, size and modification time), the examples and the training settings. max_steps and
    checkpoint_every are left out: a longer run resumes a shorter one.

    >>> example = [TrainingExample(Path("a.png"), Path("a_labelIds.png"), "a street")]
    >>> run_fingerprint("org/sd", example, {"seed": 0}) == run_fingerprint("org/sd", example, {"seed": 0})
    True
    >>> run_fingerprint("org/sd", example, {"seed": 0}) == run_fingerprint("org/sd", example, {"seed": 1})
    False
    """
    import hashlib
    import json

    base_path = Path(base)
    if base_path.is_dir():
        files = sorted(p for p in base_path.rglob("*") if p.is_file())
        base_identity = [[str(p.relative_to(base_path)), p.stat().st_size, p.stat().st_mtime_ns] for p in files]
    else:
        base_identity = base
    record = {"base": base_identity, "examples": [[str(e.image), str(e.label), e.caption] for e in examples],
              "settings": settings}
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:16]


def train_controlnet(base: str, examples: list[TrainingExample], output: Path, work_dir: Path, *, resolution: int,
                     learning_rate: float, batch_size: int, gradient_accumulation: int, max_steps: int,
                     mixed_precision: str = "no", checkpoint_every: int = 500, seed: int = 0,
                     log=print) -> None:
    """Train a ControlNet on (image, label map, caption) examples and save it to ``output``.

    ``base``: Stable Diffusion (hub id or directory). Checkpoints go to
    ``work_dir/<fingerprint>`` every ``checkpoint_every`` optimiser steps; a rerun of the same
    training (same base, examples and settings, see :func:`run_fingerprint`) resumes from the
    newest one, any other starts afresh and deletes the stale checkpoints.
    """
    from accelerate import Accelerator
    from accelerate.utils import GradientAccumulationPlugin, set_seed
    from diffusers import AutoencoderKL, ControlNetModel, DDPMScheduler, UNet2DConditionModel
    from transformers import AutoTokenizer, CLIPTextModel

    fingerprint = run_fingerprint(base, examples, {
        "resolution": resolution, "learning_rate": learning_rate, "batch_size": batch_size,
        "gradient_accumulation": gradient_accumulation, "mixed_precision": mixed_precision, "seed": seed})
    work_dir = Path(work_dir)
    for stale in (p for p in work_dir.glob("*") if p.is_dir() and p.name != fingerprint):
        log(f"removing checkpoints of another training run: {stale}")
        shutil.rmtree(stale)
    work_dir = work_dir / fingerprint
    # Every optimiser step takes exactly `gradient_accumulation` micro-batches, across epoch
    # ends too (accelerate would otherwise step early at each epoch's end): step s has consumed
    # s x accumulation batches, which is where a resumed run starts reading again.
    plugin = GradientAccumulationPlugin(num_steps=gradient_accumulation, sync_with_dataloader=False)
    accelerator = Accelerator(gradient_accumulation_plugin=plugin, mixed_precision=mixed_precision,
                              project_dir=str(work_dir))
    set_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(base, subfolder="tokenizer", use_fast=False)
    text_encoder = CLIPTextModel.from_pretrained(base, subfolder="text_encoder")
    vae = AutoencoderKL.from_pretrained(base, subfolder="vae")
    unet = UNet2DConditionModel.from_pretrained(base, subfolder="unet")
    scheduler = DDPMScheduler.from_pretrained(base, subfolder="scheduler")
    controlnet = ControlNetModel.from_unet(unet)
    for frozen in (vae, unet, text_encoder):
        frozen.requires_grad_(False)
    controlnet.train()

    dataset = LabelMapDataset(examples, tokenizer, resolution, seed)
    generator = torch.Generator().manual_seed(seed)
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True, generator=generator,
                                         drop_last=len(dataset) >= batch_size)
    optimizer = torch.optim.AdamW(controlnet.parameters(), lr=learning_rate)
    controlnet, optimizer, loader = accelerator.prepare(controlnet, optimizer, loader)
    weight_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(accelerator.mixed_precision, torch.float32)
    for frozen in (vae, unet, text_encoder):  # frozen models in the compute precision
        frozen.to(accelerator.device, dtype=weight_dtype)

    checkpoint, step = latest_checkpoint(work_dir)
    if checkpoint is not None:
        accelerator.load_state(str(checkpoint))
        log(f"resumed from {checkpoint} (step {step})")
    batches_per_epoch = len(loader)
    # micro-batches already consumed: resume at the same place of the same epoch's order
    done = step * gradient_accumulation
    epoch, skip = divmod(done, batches_per_epoch)
    while step < max_steps:
        dataset.epoch = epoch
        generator.manual_seed(seed + epoch)  # the epoch's shuffle, whatever came before
        batches = accelerator.skip_first_batches(loader, skip) if skip else loader
        skip = 0
        for batch in batches:
            with accelerator.accumulate(controlnet):
                latents = vae.encode(batch["pixel_values"].to(weight_dtype)).latent_dist.sample()
                latents = latents * vae.config.scaling_factor
                noise = torch.randn_like(latents)
                timesteps = torch.randint(0, scheduler.config.num_train_timesteps, (latents.shape[0],),
                                          device=latents.device).long()
                noisy = scheduler.add_noise(latents, noise, timesteps)
                text = text_encoder(batch["input_ids"], return_dict=False)[0]
                down, mid = controlnet(noisy, timesteps, encoder_hidden_states=text,
                                       controlnet_cond=batch["conditioning_pixel_values"].to(weight_dtype),
                                       return_dict=False)
                prediction = unet(noisy, timesteps, encoder_hidden_states=text,
                                  down_block_additional_residuals=[r.to(weight_dtype) for r in down],
                                  mid_block_additional_residual=mid.to(weight_dtype), return_dict=False)[0]
                if scheduler.config.prediction_type == "v_prediction":
                    target = scheduler.get_velocity(latents, noise, timesteps)
                else:
                    target = noise
                loss = torch.nn.functional.mse_loss(prediction.float(), target.float())
                accelerator.backward(loss)
                if accelerator.sync_gradients:
                    accelerator.clip_grad_norm_(controlnet.parameters(), 1.0)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
            if accelerator.sync_gradients:
                step += 1
                if step % max(1, max_steps // 20) == 0:
                    log(f"step {step}/{max_steps} loss {loss.item():.4f}")
                if step % checkpoint_every == 0 or step == max_steps:
                    _save_checkpoint(accelerator, work_dir, step)
                if step >= max_steps:
                    break
        epoch += 1
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        from segrel.core.io import atomic_directory

        with atomic_directory(output) as scratch:
            accelerator.unwrap_model(controlnet).save_pretrained(scratch)
    accelerator.end_training()


def _save_checkpoint(accelerator, work_dir: Path, step: int) -> None:
    """accelerate state, marked complete only once written (a killed save is not resumed from)."""
    path = work_dir / f"checkpoint-{step}"
    if path.exists():
        shutil.rmtree(path)
    accelerator.save_state(str(path))
    if accelerator.is_main_process:
        (path / "done").touch()
