"""ControlNet on Cityscapes label maps (Loiseau et al. 2024; reference code valeoai/GenVal).

The condition is the labelIds map as GenVal encodes it, (id + 1) / 34 in each of 3 channels, or
(``condition: palette``) its Cityscapes colours (see :func:`condition_map`), a control image as
diffusers' ControlNet pipeline takes any. Training images are
random square crops of side min(H, W), resized (nearest,
image and map alike) to the training resolution. Stable Diffusion stays frozen; only the
ControlNet, initialised from SD's UNet, learns. The loop is the glue of diffusers'
examples/controlnet/train_controlnet.py around accelerate (mixed precision, gradient
accumulation, multi-GPU, checkpoints to resume from).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from segrel.core.settings import SectionSettings

#: ControlNet condition encodings of a labelIds map (generation.controlnet.condition)
CONDITIONS = ("label_ids", "palette")
LABEL_ID_LEVELS = 34  # Cityscapes labelIds -1..33 -> (id + 1) / 34 in [0, 1]


def condition_map(label_ids: np.ndarray, encoding: str = "label_ids") -> np.ndarray:
    """(H, W) Cityscapes labelIds -> (3, H, W) float32 condition in [0, 1].

    ``label_ids``: Loiseau et al.'s (GenVal's) single channel (id + 1) / 34, repeated to the 3
    channels the pipeline takes. ``palette``: each pixel's Cityscapes colour (``*_gtFine_color.png``),
    the demo's: neighbouring ids differ by 0.03 in the single channel (road 0.24, sidewalk 0.26),
    which the demo's tiny ControlNet could not tell apart in its budget (its x0 predictions were
    the same grey image for every map); colours are three channels apart.

    >>> [round(float(v), 4) for v in condition_map(np.array([[0, 7], [26, 33]], dtype=np.uint8))[0].ravel()]
    [0.0294, 0.2353, 0.7941, 1.0]
    >>> (condition_map(np.array([[7, 26]], np.uint8), "palette").transpose(1, 2, 0) * 255).round().astype(int).tolist()
    [[[128, 64, 128], [0, 0, 142]]]
    """
    if encoding == "label_ids":
        levels = (label_ids.astype(np.float32) + 1.0) / LABEL_ID_LEVELS
        return np.ascontiguousarray(np.broadcast_to(levels, (3, *label_ids.shape)))
    if encoding == "palette":
        from segrel.core.labels import ID_COLORS

        return np.ascontiguousarray(ID_COLORS[label_ids].transpose(2, 0, 1), dtype=np.float32) / 255.0
    raise ValueError(f"unknown ControlNet condition {encoding!r}; choose from {', '.join(CONDITIONS)}")


def square_crop(array: np.ndarray, size: int, position: float | None = None) -> np.ndarray:
    """A square of side min(H, W) of a label map (or image), resized (nearest) to ``size``: at
    ``position`` in [0, 1) along the longer side (0 = its start), or central if None.

    >>> a = np.arange(8, dtype=np.uint8).reshape(2, 4)
    >>> square_crop(a, 2).tolist(), square_crop(a, 2, 0.0).tolist(), square_crop(a, 2, 0.99).tolist()
    ([[1, 2], [5, 6]], [[0, 1], [4, 5]], [[2, 3], [6, 7]])
    """
    height, width = array.shape[:2]
    side = min(height, width)
    spare = max(height, width) - side
    offset = spare // 2 if position is None else min(int(position * (spare + 1)), spare)
    top, left = (offset, 0) if height > width else (0, offset)
    crop = Image.fromarray(array[top : top + side, left : left + side])
    return np.asarray(crop.resize((size, size), Image.NEAREST))


def random_square_crop(image: Image.Image, label_ids: np.ndarray, size: int, rng: np.random.Generator):
    """The same random square crop of an image and its label map, resized to ``size`` (nearest for both)."""
    position = float(rng.random())
    return (Image.fromarray(square_crop(np.asarray(image), size, position)),
            square_crop(label_ids, size, position))


@dataclass
class TrainingExample:
    image: Path
    label: Path  # *_gtFine_labelIds.png
    caption: str


class LabelMapDataset(torch.utils.data.Dataset):
    """(pixel_values in [-1, 1], 3-channel condition in [0, 1], caption token ids per text
    encoder: ``tokenize``, :meth:`segrel.generate.conditioning.TextConditioning.tokenize`); the crop of
    item i in epoch e is drawn from a generator seeded by (seed, e, i): resumable, order-free."""

    def __init__(self, examples: list[TrainingExample], tokenize, size: int, seed: int, condition: str):
        self.examples, self.tokenize, self.size, self.seed = examples, tokenize, size, seed
        self.condition = condition
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, index: int):
        example = self.examples[index]
        rng = np.random.default_rng([self.seed, self.epoch, index])
        image, label = random_square_crop(Image.open(example.image).convert("RGB"),
                                          np.asarray(Image.open(example.label)), self.size, rng)
        pixels = torch.from_numpy(np.asarray(image, dtype=np.float32) / 127.5 - 1.0).permute(2, 0, 1)
        condition = torch.from_numpy(condition_map(label, self.condition))
        ids = [token_ids[0] for token_ids in self.tokenize([example.caption])]  # one per text encoder
        return {"pixel_values": pixels, "conditioning_pixel_values": condition, "input_ids": ids}


def latest_checkpoint(work_dir: Path) -> tuple[Path | None, int]:
    """The newest ``checkpoint-<step>`` folder of a training run and its step (None, 0 if none)."""
    steps = [(int(m.group(1)), p) for p in Path(work_dir).glob("checkpoint-*")
             if (m := re.fullmatch(r"checkpoint-(\d+)", p.name)) and (p / "done").exists()]
    if not steps:
        return None, 0
    step, path = max(steps)
    return path, step


@dataclass(frozen=True, kw_only=True)
class ControlNetSettings(SectionSettings):
    """``generation.controlnet`` less ``train_set`` (the examples are passed in) and the
    ``validation`` block: what the train_controlnet rule passes as ``params.settings``."""

    SECTION = "generation.controlnet"
    # left out of a checkpoint's identity: max_steps and checkpoint_every do not change what a step
    # computes (a longer run resumes a shorter one)
    RESUMABLE_ACROSS = ("max_steps", "checkpoint_every")

    resolution: int  # side of the square training crops (px)
    learning_rate: float  # AdamW
    batch_size: int  # images per micro-batch
    gradient_accumulation: int  # micro-batches per optimiser step
    max_steps: int  # optimiser steps
    mixed_precision: str  # accelerate's: "no", "fp16" or "bf16"
    checkpoint_every: int  # optimiser steps between resumable checkpoints
    seed: int  # initialisation, crops, noise and shuffling
    condition: str  # encoding of the label map (see condition_map)
    # channels of the convolutions that bring the label map down to the latents (diffusers' and
    # the ControlNet paper's SD 1.5 default)
    conditioning_channels: Sequence[int] = (16, 32, 96, 256)

    def run_identity(self) -> dict:
        """The settings a checkpoint depends on, as :func:`run_fingerprint` hashes them.

        >>> ControlNetSettings(resolution=64, learning_rate=1e-3, batch_size=2, gradient_accumulation=1,
        ...                    max_steps=9, mixed_precision="no", checkpoint_every=3, seed=0,
        ...                    condition="label_ids").run_identity()
        ... # doctest: +NORMALIZE_WHITESPACE
        {'resolution': 64, 'learning_rate': 0.001, 'batch_size': 2, 'gradient_accumulation': 1,
         'mixed_precision': 'no', 'seed': 0, 'condition': 'label_ids', 'conditioning_channels': (16, 32, 96, 256)}
        """
        return {field.name: getattr(self, field.name) for field in fields(self)
                if field.name not in self.RESUMABLE_ACROSS}


def run_fingerprint(base: str, examples: list[TrainingExample], settings: ControlNetSettings) -> str:
    """What a checkpoint is only valid for: the base model (a hub id, or a directory's files by
    name, size and modification time), the examples and the training settings (see
    :meth:`ControlNetSettings.run_identity`).

    >>> from dataclasses import replace
    >>> example = [TrainingExample(Path("a.png"), Path("a_labelIds.png"), "a street")]
    >>> settings = ControlNetSettings(resolution=64, learning_rate=1e-5, batch_size=2, gradient_accumulation=16,
    ...                               max_steps=10, mixed_precision="no", checkpoint_every=500, seed=0,
    ...                               condition="label_ids")
    >>> fingerprint = run_fingerprint("org/sd", example, settings)
    >>> run_fingerprint("org/sd", example, replace(settings, max_steps=20, checkpoint_every=1)) == fingerprint
    True
    >>> [run_fingerprint("org/sd", example, replace(settings, **change)) == fingerprint
    ...  for change in ({"seed": 1}, {"condition": "palette"}, {"conditioning_channels": (8, 16, 32, 64)})]
    [False, False, False]
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
              "settings": settings.run_identity()}
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class _TrainingRun:
    """Everything one training run's steps touch; ``controlnet``, ``optimizer`` and ``loader`` as
    accelerate prepared them, the frozen models in the compute precision."""

    accelerator: object
    conditioning: object  # segrel.generate.conditioning.TextConditioning
    vae: object
    unet: object
    scheduler: object
    controlnet: object
    optimizer: object
    dataset: LabelMapDataset
    loader: object
    shuffle: torch.Generator  # the loader's shuffling generator, reseeded at each epoch
    weight_dtype: torch.dtype


def train_controlnet(base: str, examples: list[TrainingExample], output: Path, work_dir: Path,
                     settings: ControlNetSettings, *, log=print) -> None:
    """Train a ControlNet on (image, label map, caption) examples and save it to ``output``.

    ``base``: Stable Diffusion (hub id or directory). Checkpoints go to
    ``work_dir/<fingerprint>`` every ``settings.checkpoint_every`` optimiser steps; a rerun of
    the same training (same base, examples and settings, see :func:`run_fingerprint`) resumes
    from the newest one, any other starts afresh and deletes the stale checkpoints.
    """
    work_dir = _run_directory(Path(work_dir), run_fingerprint(base, examples, settings), log)
    run = _prepare_run(base, examples, settings, work_dir)
    step = _resume(run, work_dir, log)
    _train_steps(run, settings, work_dir, step, log)
    run.accelerator.wait_for_everyone()
    if run.accelerator.is_main_process:
        from segrel.core.io import atomic_directory

        with atomic_directory(output) as scratch:
            run.accelerator.unwrap_model(run.controlnet).save_pretrained(scratch)
    run.accelerator.end_training()


def _run_directory(work_dir: Path, fingerprint: str, log) -> Path:
    """This run's checkpoint folder ``work_dir/<fingerprint>``; other runs' folders are deleted."""
    for stale in (p for p in work_dir.glob("*") if p.is_dir() and p.name != fingerprint):
        log(f"removing checkpoints of another training run: {stale}")
        shutil.rmtree(stale)
    return work_dir / fingerprint


def _prepare_run(base: str, examples: list[TrainingExample], settings: ControlNetSettings,
                 work_dir: Path) -> _TrainingRun:
    """The accelerator, Stable Diffusion's (or SDXL's) parts (frozen), the ControlNet initialised from its
    UNet, the data loader and the optimiser. The order of the seeded steps is part of the run's
    identity: a resumed run must draw what a straight run draws."""
    from accelerate import Accelerator
    from accelerate.utils import GradientAccumulationPlugin, set_seed
    from diffusers import AutoencoderKL, ControlNetModel, DDPMScheduler, UNet2DConditionModel

    from segrel.generate.conditioning import TextConditioning

    # Every optimiser step takes exactly `gradient_accumulation` micro-batches, across epoch
    # ends too (accelerate would otherwise step early at each epoch's end): step s has consumed
    # s x accumulation batches, which is where a resumed run starts reading again.
    plugin = GradientAccumulationPlugin(num_steps=settings.gradient_accumulation, sync_with_dataloader=False)
    accelerator = Accelerator(gradient_accumulation_plugin=plugin, mixed_precision=settings.mixed_precision,
                              project_dir=str(work_dir))
    set_seed(settings.seed)
    conditioning = TextConditioning.from_pretrained(base)  # SD's text encoder, or SDXL's two
    vae = AutoencoderKL.from_pretrained(base, subfolder="vae")
    unet = UNet2DConditionModel.from_pretrained(base, subfolder="unet")
    scheduler = DDPMScheduler.from_pretrained(base, subfolder="scheduler")
    _check_conditioning_channels(settings.conditioning_channels, vae)
    controlnet = ControlNetModel.from_unet(unet, conditioning_embedding_out_channels=settings.conditioning_channels)
    for frozen in (vae, unet, *conditioning.encoders):
        frozen.requires_grad_(False)
    controlnet.train()

    dataset = LabelMapDataset(examples, conditioning.tokenize, settings.resolution, settings.seed, settings.condition)
    shuffle = torch.Generator().manual_seed(settings.seed)
    loader = torch.utils.data.DataLoader(dataset, batch_size=settings.batch_size, shuffle=True, generator=shuffle,
                                         drop_last=len(dataset) >= settings.batch_size)
    optimizer = torch.optim.AdamW(controlnet.parameters(), lr=settings.learning_rate)
    controlnet, optimizer, loader = accelerator.prepare(controlnet, optimizer, loader)
    weight_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(accelerator.mixed_precision, torch.float32)
    for frozen in (vae, unet, *conditioning.encoders):  # frozen models in the compute precision
        frozen.to(accelerator.device, dtype=weight_dtype)
    return _TrainingRun(accelerator, conditioning, vae, unet, scheduler, controlnet, optimizer, dataset, loader,
                        shuffle, weight_dtype)


def _check_conditioning_channels(channels, vae) -> None:
    """The conditioning embedding halves the label map's size between its resolutions, down to
    the latents': one resolution more than the VAE's downsamplings (SD's VAE: 3, so 4)."""
    resolutions = len(vae.config.block_out_channels)
    if len(channels) != resolutions:
        raise ValueError(f"generation.controlnet.conditioning_channels {list(channels)}: this generator's VAE "
                         f"downsamples {resolutions - 1} times, so give {resolutions} channel counts, one per "
                         "resolution")


def _resume(run: _TrainingRun, work_dir: Path, log) -> int:
    """Load this run's newest complete checkpoint, if any; the optimiser step it reached (0 if none)."""
    checkpoint, step = latest_checkpoint(work_dir)
    if checkpoint is not None:
        run.accelerator.load_state(str(checkpoint))
        log(f"resumed from {checkpoint} (step {step})")
    return step


def _train_steps(run: _TrainingRun, settings: ControlNetSettings, work_dir: Path, step: int, log) -> None:
    """Optimiser steps from ``step`` to ``settings.max_steps``, with progress logs and checkpoints."""
    # micro-batches already consumed: resume at the same place of the same epoch's order
    epoch, skip = divmod(step * settings.gradient_accumulation, len(run.loader))
    while step < settings.max_steps:
        run.dataset.epoch = epoch
        run.shuffle.manual_seed(settings.seed + epoch)  # the epoch's shuffle, whatever came before
        batches = run.accelerator.skip_first_batches(run.loader, skip) if skip else run.loader
        skip = 0
        for batch in batches:
            with run.accelerator.accumulate(run.controlnet):
                loss = _diffusion_loss(run, batch)
                run.accelerator.backward(loss)
                if run.accelerator.sync_gradients:
                    run.accelerator.clip_grad_norm_(run.controlnet.parameters(), 1.0)
                run.optimizer.step()
                run.optimizer.zero_grad(set_to_none=True)
            if run.accelerator.sync_gradients:
                step += 1
                if step % max(1, settings.max_steps // 20) == 0:
                    log(f"step {step}/{settings.max_steps} loss {loss.item():.4f}")
                if step % settings.checkpoint_every == 0 or step == settings.max_steps:
                    _save_checkpoint(run.accelerator, work_dir, step)
                if step >= settings.max_steps:
                    break
        epoch += 1


def _diffusion_loss(run: _TrainingRun, batch) -> torch.Tensor:
    """The denoising loss of one micro-batch: noise the image latents at random timesteps, predict
    with the UNet steered by the ControlNet's residuals, compare with the noise (or velocity)."""
    vae, unet, scheduler, dtype = run.vae, run.unet, run.scheduler, run.weight_dtype
    latents = vae.encode(batch["pixel_values"].to(dtype)).latent_dist.sample() * vae.config.scaling_factor
    noise = torch.randn_like(latents)
    timesteps = torch.randint(0, scheduler.config.num_train_timesteps, (latents.shape[0],),
                              device=latents.device).long()
    noisy = scheduler.add_noise(latents, noise, timesteps)
    text, added = run.conditioning.encode(batch["input_ids"], batch["pixel_values"].shape[-1])
    down, mid = run.controlnet(noisy, timesteps, encoder_hidden_states=text, added_cond_kwargs=added,
                               controlnet_cond=batch["conditioning_pixel_values"].to(dtype), return_dict=False)
    prediction = unet(noisy, timesteps, encoder_hidden_states=text, added_cond_kwargs=added,
                      down_block_additional_residuals=[r.to(dtype) for r in down],
                      mid_block_additional_residual=mid.to(dtype), return_dict=False)[0]
    if scheduler.config.prediction_type == "v_prediction":
        target = scheduler.get_velocity(latents, noise, timesteps)
    else:
        target = noise
    return torch.nn.functional.mse_loss(prediction.float(), target.float())


def _save_checkpoint(accelerator, work_dir: Path, step: int) -> None:
    """accelerate state, marked complete only once written (a killed save is not resumed from)."""
    path = work_dir / f"checkpoint-{step}"
    if path.exists():
        shutil.rmtree(path)
    accelerator.save_state(str(path))
    if accelerator.is_main_process:
        (path / "done").touch()
