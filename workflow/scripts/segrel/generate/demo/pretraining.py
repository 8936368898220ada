"""Pre-training of the demo's tiny generators: the offline stand-in for the web-scale
pre-training that SD 1.5, SD inpainting and BLIP received before Loiseau et al. used them.

The paper takes these models as given and only fine-tunes a ControlNet; the demo cannot
download them, and randomly initialised ones generate noise and caption word salad. So the
demo pre-trains them here, on captioned procedural street scenes in every condition the
scene renderer knows ("a street with cars and trees, in fog"), the way the real ones were
trained (each step below names its original), then runs the paper's pipeline unchanged:
ControlNet fine-tuning on Cityscapes-like train maps only, generation prompted
"<caption>, in <domain>". The pre-training set is drawn from its own seeds, disjoint from
every evaluated image, as LAION is disjoint from ACDC.

- VAE: reconstruction (L1 + MSE) with a small KL term (SD's VAE adds LPIPS and a GAN loss,
  which a 128 px demo does without); the latent scaling factor is then set to 1 / std of
  the latents, as SD's 0.18215 was.
- Text-to-image: the UNet and the text encoder (SD keeps a pre-trained CLIP frozen; the
  demo's is random, so it learns too), v-prediction on a zero-terminal-SNR schedule (see
  segrel.generate.demo.builders.DEMO_SCHEDULER for why), with 10% of the captions dropped so that
  classifier-free guidance has an unconditional model.
- Inpainting: the 9-channel UNet starts from the text-to-image one (extra input channels
  zero-initialised, as runwayml/stable-diffusion-inpainting started from SD 1.2) and learns
  with random rectangles, 25% of them the whole image.
- Captioner: BLIP's language-modelling loss on the scene descriptions (without the condition).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from segrel.core.io import atomic_directory, save_png
from segrel.data.demo.canvas import class_id
from segrel.data.demo.scenes import CITYSCAPES_STYLE, IDD_STYLE, generate_scene
from segrel.generate.demo import PRETRAINED

#: condition -> (scene style, renderer condition, caption suffix). "india" is the IDD-like
#: layout and look in clear weather; the suffix matches generation's "<caption>, in <domain>".
CONDITIONS = {
    "clear": (CITYSCAPES_STYLE, "clear", ""),
    "fog": (CITYSCAPES_STYLE, "fog", ", in fog"),
    "night": (CITYSCAPES_STYLE, "night", ", in night"),
    "rain": (CITYSCAPES_STYLE, "rain", ", in rain"),
    "snow": (CITYSCAPES_STYLE, "snow", ", in snow"),
    "india": (IDD_STYLE, "clear", ", in india"),
}
# (class, singular, plural) in the order a caption lists them; words of the tiny BLIP vocabulary
_THINGS = [("car", "car", "cars"), ("truck", "truck", "trucks"), ("bus", "bus", "buses"),
           ("autorickshaw", "rickshaw", "rickshaws"), ("person", "person", "people"),
           ("rider", "rider", "riders"), ("bicycle", "bicycle", "bicycles"),
           ("motorcycle", "motorcycle", "motorcycles"), ("traffic light", "traffic light", "traffic lights"),
           ("traffic sign", "sign", "signs"), ("vegetation", "tree", "trees")]
_MIN_FRACTION = 0.002  # of the image: smaller things are not mentioned


def describe_scene(labels: np.ndarray, instances: np.ndarray) -> str:
    """A BLIP-style caption of what a scene shows, from its label and instance maps.

    >>> labels = np.full((10, 50), class_id("road"), np.uint8); labels[:2] = class_id("building")
    >>> labels[5:7, :3], labels[5:7, 10:13] = class_id("car"), class_id("car")
    >>> instances = np.zeros(labels.shape, np.int32); instances[5:7, 10:13] = 1; instances[5:7, :3] = 2
    >>> describe_scene(labels, instances)
    'a city street with buildings and cars'
    >>> describe_scene(np.full((4, 4), class_id("road"), np.uint8), np.zeros((4, 4), np.int32))
    'an empty road'
    """
    minimum = _MIN_FRACTION * labels.size
    things = []
    for name, singular, plural in _THINGS:
        mask = labels == class_id(name)
        if mask.sum() < minimum:
            continue
        count = len(np.unique(instances[mask & (instances > 0)]))
        things.append(singular if count == 1 and name != "vegetation" else plural)
    if (labels == class_id("building")).sum() >= 0.05 * labels.size:
        return "a city street with " + _join(["buildings", *things])
    return ("a road with " + _join(things)) if things else "an empty road"


def _join(words: Sequence[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def write_pretraining_set(root, *, seed: int, height: int, width: int, images: int,
                          conditions: Sequence[str]) -> None:
    """``images`` captioned scenes per condition: ``images/<condition>_<n>.png`` + captions.csv."""
    from segrel.core.logs import progress
    from segrel.core.seeds import seed_sequence
    from segrel.data.demo.weather import render

    unknown = sorted(set(conditions) - set(CONDITIONS))
    if unknown:
        raise ValueError(f"unknown pre-training condition(s) {unknown}; choose from {', '.join(CONDITIONS)}")
    with atomic_directory(root) as out:
        rows = []
        items = [(condition, index) for condition in conditions for index in range(images)]
        for condition, index in progress(items, "pretraining set"):
            style, rendering, suffix = CONDITIONS[condition]
            scene_seed, render_seed = seed_sequence(seed, "pretraining", condition, index).spawn(2)
            scene = generate_scene(scene_seed, height, width, style)
            name = f"{condition}_{index:05d}.png"
            save_png(out / "images" / name, render(scene, rendering, np.random.default_rng(render_seed), style.haze))
            description = describe_scene(scene.labels, scene.instances)
            rows.append((name, description + suffix, description))
        with open(out / "captions.csv", "w", newline="") as handle:
            csv.writer(handle).writerows([("image", "caption", "description"), *rows])


class CaptionedImages(torch.utils.data.Dataset):
    """Random square crops of side min(H, W), resized to ``size``, with their captions; the
    crop of item i in epoch e comes from a generator seeded by (seed, e, i). Crops start at
    multiples of 8 px, so that when no resize is needed (min(H, W) == size) a crop of the image
    is the same crop of its VAE latents (which are then encoded once, see ``encode_images``)."""

    def __init__(self, root, size: int, seed: int, crop: int | None = None, text: str = "caption"):
        root = Path(root)
        with open(root / "captions.csv", newline="") as handle:
            self.items = [(root / "images" / row["image"], row[text]) for row in csv.DictReader(handle)]
        if not self.items:
            raise ValueError(f"{root}/captions.csv lists no images: rebuild the pre-training set")
        # crop: a fixed crop side at the images' own scale (the VAE learns on small crops)
        self.size, self.seed, self.crop, self.epoch = size, seed, crop, 0

    def __len__(self) -> int:
        return len(self.items)

    def image(self, index: int) -> Image.Image:
        return Image.open(self.items[index][0]).convert("RGB")

    def __getitem__(self, index: int):
        image, caption = self.image(index), self.items[index][1]
        rng = np.random.default_rng([self.seed, self.epoch, index])
        side = self.crop or min(image.size)
        left = 8 * int(rng.integers(0, (image.width - side) // 8 + 1))
        top = 8 * int(rng.integers(0, (image.height - side) // 8 + 1))
        image = image.crop((left, top, left + side, top + side))
        if self.crop is None and side != self.size:
            image = image.resize((self.size, self.size), Image.BICUBIC)
        return {"pixels": _to_pixels(image), "caption": caption, "index": index, "top": top, "left": left}


def batches(dataset: CaptionedImages, batch_size: int, steps: int, seed: int):
    """``steps`` shuffled batches, epoch after epoch; deterministic in ``seed``."""
    if len(dataset) < batch_size:  # drop_last would leave every epoch empty
        raise ValueError(f"{len(dataset)} pre-training images make no batch of {batch_size}: lower the batch size "
                         "or raise generation.demo_pretraining.images_per_condition")
    generator = torch.Generator().manual_seed(seed)
    step, epoch = 0, 0
    while True:
        dataset.epoch = epoch
        loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True, drop_last=True,
                                             generator=generator)
        for batch in loader:
            yield batch
            step += 1
            if step == steps:
                return
        epoch += 1


def encode_images(vae, dataset: CaptionedImages) -> list[torch.Tensor]:
    """The VAE posterior parameters (mean, log-variance) of every whole image, computed once:
    encoding a batch of 16 crops cost as much as the UNet step itself (0.30 vs 0.33 s)."""
    if any(min(dataset.image(i).size) != dataset.size for i in range(min(3, len(dataset)))):
        raise ValueError(f"pre-training images must be {dataset.size} px high (the training resolution) "
                         "for their latents to be cropped: rebuild the pre-training set at that height")
    with torch.no_grad():
        return [vae.encode(_to_pixels(dataset.image(i))[None]).latent_dist.parameters[0]
                for i in range(len(dataset))]


def _to_pixels(image: Image.Image) -> torch.Tensor:
    return torch.from_numpy(np.asarray(image, dtype=np.float32) / 127.5 - 1.0).permute(2, 0, 1)


def _latent_crops(parameters: list[torch.Tensor], batch, size: int) -> torch.Tensor:
    from diffusers.models.autoencoders.vae import DiagonalGaussianDistribution

    crops = [parameters[int(i)][:, int(t) // 8 : int(t) // 8 + size // 8, int(left) // 8 : int(left) // 8 + size // 8]
             for i, t, left in zip(batch["index"], batch["top"], batch["left"])]
    return DiagonalGaussianDistribution(torch.stack(crops)).sample()


class _Logger:
    def __init__(self, name: str, steps: int, log):
        self.name, self.steps, self.log, self.total, self.count = name, steps, log, 0.0, 0

    def __call__(self, step: int, loss: torch.Tensor) -> None:
        self.total, self.count = self.total + loss.item(), self.count + 1
        if (step + 1) % max(1, self.steps // 10) == 0 or step + 1 == self.steps:
            self.log(f"{self.name} step {step + 1}/{self.steps} loss {self.total / self.count:.4f}")
            self.total, self.count = 0.0, 0


def _start_training(modules, name: str, *, learning_rate: float, steps: int, seed: int, log):
    """Seed, put ``modules`` in training mode, and AdamW with a short warm-up then cosine decay
    (what diffusers' examples use); returns (parameters, optimizer, schedule, logger)."""
    from diffusers.optimization import get_cosine_schedule_with_warmup

    torch.manual_seed(seed)
    for module in modules:
        module.train()
    parameters = [parameter for module in modules for parameter in module.parameters()]
    optimizer = torch.optim.AdamW(parameters, lr=learning_rate, weight_decay=1e-2)
    schedule = get_cosine_schedule_with_warmup(optimizer, min(100, steps // 10), steps)
    return parameters, optimizer, schedule, _Logger(name, steps, log)


def _step(optimizer, schedule, loss, parameters) -> None:
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(parameters, 1.0)
    optimizer.step()
    schedule.step()


def train_vae(vae, dataset: CaptionedImages, *, steps: int, batch_size: int, learning_rate: float, seed: int,
              start: str = "cell_means", low_frequency_weight: float = 0.0, kl_weight: float = 1e-6, log=print):
    """Reconstruction (L1 + MSE) + KL; then scaling_factor = 1 / std of the latents (as SD's 0.18215).

    ``start`` "cell_means" first sets the VAE to the linear autoencoder of each latent cell's
    mean colour (segrel.generate.demo.vae_start: a deep autoencoder trained briefly from random
    weights learns luminance first and leaves the colours grey, where a cell's mean colour is
    what a segmenter needs to tell road, vegetation and sky); "random" keeps the built weights.
    ``low_frequency_weight`` adds the same reconstruction loss on the images averaged over the
    latent's cells (8x8 px).
    """
    if start == "cell_means":
        from segrel.generate.demo.vae_start import cell_mean_start

        calibration = next(batches(dataset, min(len(dataset), max(batch_size, 16)), 1, seed + 2))["pixels"]
        log(f"vae starts as the cell-mean autoencoder (deviation {cell_mean_start(vae, calibration):.1e})")
    elif start != "random":
        raise ValueError(f"unknown VAE start {start!r}: choose cell_means or random")
    parameters, optimizer, schedule, logger = _start_training([vae], "vae", learning_rate=learning_rate, steps=steps,
                                                              seed=seed, log=log)
    cell = 2 ** (len(vae.config.block_out_channels) - 1)  # the VAE's downsampling factor (SD: 8)
    for step, batch in enumerate(batches(dataset, batch_size, steps, seed)):
        pixels = batch["pixels"]
        posterior = vae.encode(pixels).latent_dist
        reconstruction = vae.decode(posterior.sample()).sample
        error = reconstruction - pixels
        cell_error = torch.nn.functional.avg_pool2d(error, cell)
        loss = (error.abs().mean() + error.square().mean()
                + low_frequency_weight * (cell_error.abs().mean() + cell_error.square().mean())
                + kl_weight * posterior.kl().mean())
        _step(optimizer, schedule, loss, parameters)
        logger(step, loss)
    vae.eval()
    with torch.no_grad():
        latents = torch.cat([vae.encode(batch["pixels"]).latent_dist.mean
                             for batch in batches(dataset, batch_size, max(1, 256 // batch_size), seed + 1)])
    vae.register_to_config(scaling_factor=float(1.0 / latents.std()))
    log(f"vae latent std {float(latents.std()):.4f} -> scaling_factor {vae.config.scaling_factor:.5f}")
    return vae


def train_denoiser(unet, conditioning, vae, scheduler, dataset: CaptionedImages, *, steps: int,
                   batch_size: int, learning_rate: float, seed: int, caption_dropout: float = 0.1,
                   inpainting: bool = False, log=print):
    """Denoising on VAE latents (VAE frozen; the target follows the scheduler's prediction
    type: the noise, or the velocity for the demo's zero-terminal-SNR schedule); UNet and text
    encoder(s) learn, conditioned as the pipeline conditions them
    (:class:`segrel.generate.conditioning.TextConditioning`: SD's or SDXL's). With
    ``inpainting`` the UNet also reads the mask and the masked image's latents (SD inpainting's
    9 channels, in the order StableDiffusionInpaintPipeline concatenates them)."""
    vae.requires_grad_(False)
    parameters, optimizer, schedule, logger = _start_training(
        [unet, *conditioning.encoders], "inpainting" if inpainting else "text-to-image",
        learning_rate=learning_rate, steps=steps, seed=seed, log=log)
    rng = np.random.default_rng(seed)
    scale = vae.config.scaling_factor
    posteriors = encode_images(vae, dataset)
    for step, batch in enumerate(batches(dataset, batch_size, steps, seed)):
        pixels = batch["pixels"]
        captions = ["" if rng.random() < caption_dropout else caption for caption in batch["caption"]]
        latents = _latent_crops(posteriors, batch, dataset.size) * scale
        noise = torch.randn_like(latents)
        timesteps = torch.randint(0, scheduler.config.num_train_timesteps, (len(latents),))
        model_input = scheduler.add_noise(latents, noise, timesteps)
        if inpainting:
            masks = random_masks(rng, len(pixels), pixels.shape[-1])
            with torch.no_grad():
                masked = vae.encode(pixels * (masks < 0.5)).latent_dist.sample() * scale
            small = torch.nn.functional.interpolate(masks, size=latents.shape[-2:])
            model_input = torch.cat([model_input, small, masked], dim=1)
        text, added = conditioning.encode(conditioning.tokenize(captions), dataset.size)
        prediction = unet(model_input, timesteps, text, added_cond_kwargs=added, return_dict=False)[0]
        if scheduler.config.prediction_type == "v_prediction":
            target = scheduler.get_velocity(latents, noise, timesteps)
        else:
            target = noise
        loss = torch.nn.functional.mse_loss(prediction, target)
        _step(optimizer, schedule, loss, parameters)
        logger(step, loss)
    for module in (unet, *conditioning.encoders):
        module.eval()
    return unet, conditioning


def random_masks(rng: np.random.Generator, count: int, size: int, full: float = 0.25) -> torch.Tensor:
    """(count, 1, size, size) masks, 1 = repaint: a random rectangle, or (``full``) everything.

    >>> masks = random_masks(np.random.default_rng(0), 64, 16)
    >>> masks.shape, bool(((masks == 0) | (masks == 1)).all()), 0 < float(masks.mean()) < 1
    (torch.Size([64, 1, 16, 16]), True, True)
    """
    masks = torch.zeros(count, 1, size, size)
    for mask in masks:
        if rng.random() < full:
            mask[:] = 1
            continue
        height, width = rng.integers(size // 4, size, endpoint=True, size=2)
        top, left = rng.integers(0, size - height, endpoint=True), rng.integers(0, size - width, endpoint=True)
        mask[:, top : top + height, left : left + width] = 1
    return masks


def inpainting_unet_from(unet, seed: int):
    """A 9-input-channel copy of a text-to-image UNet: the mask and masked-image channels of
    conv_in start at zero, so it begins as the text-to-image model."""
    from diffusers import UNet2DConditionModel

    config = dict(unet.config)
    config["in_channels"] = 9
    torch.manual_seed(seed)
    inpainting = UNet2DConditionModel.from_config(config)
    state = unet.state_dict()
    weight = torch.zeros_like(inpainting.conv_in.weight)
    weight[:, : unet.config.in_channels] = state["conv_in.weight"]
    state["conv_in.weight"] = weight
    inpainting.load_state_dict(state)
    return inpainting


def train_captioner(model, processor, dataset: CaptionedImages, *, steps: int, batch_size: int,
                    learning_rate: float, seed: int, log=print):
    """BLIP's captioning loss: the decoder reads '[DEC] caption [SEP]' (what generate starts from)."""
    parameters, optimizer, schedule, logger = _start_training([model], "captioner", learning_rate=learning_rate,
                                                              steps=steps, seed=seed, log=log)
    for step, batch in enumerate(batches(dataset, batch_size, steps, seed)):
        images = [Image.fromarray(((p.permute(1, 2, 0).numpy() + 1) * 127.5).round().astype(np.uint8))
                  for p in batch["pixels"]]
        inputs = processor(images=images, text=batch["caption"], padding=True, return_tensors="pt")
        input_ids = inputs.input_ids.clone()
        input_ids[:, 0] = model.config.text_config.bos_token_id
        labels = input_ids.masked_fill(inputs.attention_mask == 0, -100)
        loss = model(pixel_values=inputs.pixel_values, input_ids=input_ids, attention_mask=inputs.attention_mask,
                     labels=labels).loss
        _step(optimizer, schedule, loss, parameters)
        logger(step, loss)
    model.eval()
    return model


def pretrain(name: str, initial, data, output, *, settings: dict, stable_diffusion=None, log=print) -> None:
    """Pre-train the tiny ``name`` generator (a folder built by segrel.generate.demo.builders) on the
    pre-training set ``data`` and save it, in the same Hugging Face layout, to ``output``.
    The inpainting and SDXL models start from the pre-trained ``stable_diffusion`` folder."""
    from segrel.core.io import atomic_directory

    if name not in PRETRAINED:
        raise ValueError(f"the demo pre-trains only {', '.join(PRETRAINED)}, not {name!r}")
    seed, resolution = settings["seed"], settings["resolution"]
    with atomic_directory(output) as scratch:
        if name == "captioner":
            from transformers import BlipForConditionalGeneration, BlipProcessor

            processor = BlipProcessor.from_pretrained(initial)
            model = BlipForConditionalGeneration.from_pretrained(initial)
            # the scene without its condition: the captions the demo needs are of Cityscapes-like
            # clear scenes, and a captioner trained on the conditions too called half of them
            # foggy (prompts then read "..., in fog, in night")
            train_captioner(model, processor, CaptionedImages(data, resolution, seed, text="description"),
                            seed=seed, log=log, **settings["captioner"])
            processor.save_pretrained(scratch)
            model.save_pretrained(scratch)
            return
        from diffusers import DDPMScheduler, DiffusionPipeline

        if name == "stable_diffusion":
            pipeline = DiffusionPipeline.from_pretrained(initial)
            vae_settings = dict(settings["vae"])
            crop = vae_settings.pop("crop")
            if crop > resolution:
                raise ValueError(f"generation.demo_pretraining.vae.crop ({crop}) exceeds the pre-training images' "
                                 f"height ({resolution} = generation.controlnet.resolution): lower it")
            train_vae(pipeline.vae, CaptionedImages(data, resolution, seed, crop=crop), seed=seed, log=log,
                      **vae_settings)
        else:
            if stable_diffusion is None:
                raise ValueError(f"the {name} model starts from the pre-trained Stable Diffusion: pass its folder")
            base = DiffusionPipeline.from_pretrained(stable_diffusion)
            # SD inpainting starts from SD's UNet; SDXL from its own, with SD's VAE and first text encoder
            unet = {"unet": inpainting_unet_from(base.unet, seed)} if name == "inpainting" else {}
            pipeline = DiffusionPipeline.from_pretrained(initial, vae=base.vae, text_encoder=base.text_encoder, **unet)
        from segrel.generate.conditioning import TextConditioning

        scheduler = DDPMScheduler.from_config(pipeline.scheduler.config)  # the training noise schedule
        train_denoiser(pipeline.unet, TextConditioning.from_pipeline(pipeline), pipeline.vae, scheduler,
                       CaptionedImages(data, resolution, seed), inpainting=name == "inpainting", seed=seed,
                       log=log, **settings[name])
        pipeline.save_pretrained(scratch)
