"""Monocular metric depth for datasets that ship none (ACDC, IDD), so that the 3D corruptions and
the physics proxies can render them: a transformers depth model (``AutoModelForDepthEstimation``
that outputs metres, e.g. Depth Anything V2 Metric Outdoor) run once per image by rule
``estimate_depth`` and cached as 16-bit PNGs of centimetres
(``resources/depth/<dataset>/<split>/<image path>.depth.png``).

A relative depth model (Depth Anything's default, DPT, MiDaS: inverse depth up to scale) would
make Koschmieder's law and fog_3d meaningless, so one is refused. The intrinsics of an estimated
image are unknown: its rays use Cityscapes' focal length relative to the image width, the
principal point at the centre (only the physics proxies' ray length uses them).

The demo has no model to download: :func:`build_demo_estimator` makes a tiny Depth Anything and
:func:`train_demo_estimator` teaches it the demo's true depth (its Cityscapes train split's
disparity files).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from segrel.core.settings import SectionSettings
from segrel.stress.depth import Depth

CENTIMETRES_PER_METRE = 100.0
#: Cityscapes' fx (2262.52 px) over its width (2048 px): the focal length assumed for estimated depth
FOCAL_PER_WIDTH = 2262.52 / 2048


def estimated_depth_file(depth_root: str | Path, image_root: str | Path, image: str | Path) -> Path:
    """Where the estimated depth of ``image`` (a file under ``image_root``) is cached."""
    relative = Path(image).relative_to(image_root)
    return Path(depth_root) / relative.parent / f"{relative.name}.depth.png"


def read_estimated_depth(path: str | Path) -> Depth:
    """A cached estimate as :class:`Depth` (metres; the intrinsics assumed, see the module doc)."""
    from PIL import Image

    with Image.open(path) as file:
        depth = np.asarray(file, dtype=np.float64) / CENTIMETRES_PER_METRE
    height, width = depth.shape
    focal = FOCAL_PER_WIDTH * width
    return Depth(np.where(depth > 0, depth, np.inf), focal, focal, (width - 1) / 2, (height - 1) / 2)


def encode_depth(depth: np.ndarray) -> np.ndarray:
    """Metres -> uint16 centimetres, clipped to 0.01-655.35 m (0 stays free for "unknown").

    >>> encode_depth(np.array([[1.234, 0.0, 1e4]])).tolist()
    [[123, 1, 65535]]
    """
    return np.clip(np.round(depth * CENTIMETRES_PER_METRE), 1, 65535).astype(np.uint16)


def load_estimator(source: str, device: str = "cpu"):
    """(model, image processor) of a metric depth model (a directory or a Hugging Face id)."""
    from transformers import AutoImageProcessor, AutoModelForDepthEstimation

    model = AutoModelForDepthEstimation.from_pretrained(source).eval().to(device)
    if getattr(model.config, "depth_estimation_type", "metric") != "metric":
        raise ValueError(f"{source} estimates relative depth (depth_estimation_type "
                         f"{model.config.depth_estimation_type!r}); the 3D corruptions need metres: name a metric "
                         "model, e.g. depth-anything/Depth-Anything-V2-Metric-Outdoor-Small-hf")
    return model, AutoImageProcessor.from_pretrained(source)


def estimate_depth(model, processor, images: list[np.ndarray]) -> list[np.ndarray]:
    """(H, W) metres of each uint8 RGB image: the model's prediction, resized to the image by the
    processor's own post-processing (as transformers' depth-estimation pipeline does)."""
    import torch

    inputs = processor(images=images, return_tensors="pt").to(model.device)
    with torch.no_grad():
        outputs = model(**inputs)
    results = processor.post_process_depth_estimation(outputs, target_sizes=[image.shape[:2] for image in images])
    return [result["predicted_depth"].double().cpu().numpy() for result in results]


def write_depth_set(model, processor, samples, image_root: str | Path, out: str | Path, *, batch_size: int,
                    progress=None) -> int:
    """Estimate and cache the depth of every sample's image under ``out`` (atomically)."""
    from segrel.core import formats
    from segrel.core.io import atomic_directory, save_png

    with atomic_directory(out) as scratch:
        batches = [samples[start : start + batch_size] for start in range(0, len(samples), batch_size)]
        for batch in progress(batches) if progress else batches:
            images = [formats.read_image(sample.image) for sample in batch]
            for sample, depth in zip(batch, estimate_depth(model, processor, images), strict=True):
                save_png(estimated_depth_file(scratch, image_root, sample.image), encode_depth(depth))
    return len(samples)


@dataclass(frozen=True, kw_only=True)
class DemoEstimatorSettings(SectionSettings):
    """The demo's tiny depth estimator (``stress.depth_estimator`` with source demo)."""

    SECTION = "stress.depth_estimator (demo)"

    resolution: int  # height the model sees (a multiple of its 14 px patches; the width keeps the aspect)
    max_depth: int  # metres: the metric head's sigmoid range
    steps: int  # optimiser steps
    batch_size: int  # images per step
    learning_rate: float  # AdamW
    seed: int


def build_demo_estimator(settings: DemoEstimatorSettings, width_per_height: float):
    """(model, image processor): a tiny metric Depth Anything (DINOv2 backbone of 4 layers of 32
    channels, ~0.13 M parameters), randomly initialised from ``settings.seed``."""
    import torch
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config, DPTImageProcessor

    height = settings.resolution
    width = round(height * width_per_height / 14) * 14
    backbone = Dinov2Config(hidden_size=32, num_hidden_layers=4, num_attention_heads=2, intermediate_size=64,
                            patch_size=14, image_size=height, out_features=["stage1", "stage2", "stage3", "stage4"],
                            reshape_hidden_states=False)
    config = DepthAnythingConfig(backbone_config=backbone, reassemble_hidden_size=32, neck_hidden_sizes=[8, 16, 16, 16],
                                 fusion_hidden_size=16, head_hidden_size=8, depth_estimation_type="metric",
                                 max_depth=settings.max_depth, patch_size=14)
    torch.manual_seed(settings.seed)
    processor = DPTImageProcessor(size={"height": height, "width": width}, keep_aspect_ratio=False,
                                  ensure_multiple_of=14, do_pad=False, image_mean=[0.485, 0.456, 0.406],
                                  image_std=[0.229, 0.224, 0.225])
    return DepthAnythingForDepthEstimation(config), processor


def silog_loss(predicted, target, valid, variance_focus: float = 0.85):
    """Eigen et al.'s scale-invariant log loss on the ``valid`` pixels, as Depth Anything's metric
    fine-tuning uses it (sqrt of mean d^2 - lambda mean(d)^2, d = log predicted - log target)."""
    import torch

    difference = torch.log(predicted[valid]) - torch.log(target[valid])
    return torch.sqrt((difference**2).mean() - variance_focus * difference.mean() ** 2)


def train_demo_estimator(samples, settings: DemoEstimatorSettings, out: str | Path, log=print) -> None:
    """Build the tiny estimator, teach it the true depth of ``samples`` (Cityscapes-layout images
    with disparity and camera files) and save it (model and processor) to ``out``, atomically."""
    import torch

    from segrel.core import formats
    from segrel.core.io import atomic_directory
    from segrel.stress.depth import cityscapes_depth

    images = [formats.read_image(sample.image) for sample in samples]
    model, processor = build_demo_estimator(settings, images[0].shape[1] / images[0].shape[0])
    pixels = processor(images=images, return_tensors="pt").pixel_values
    depths = torch.tensor(np.stack([cityscapes_depth(sample.image).depth for sample in samples]), dtype=torch.float32)
    targets = torch.nn.functional.interpolate(depths[:, None], size=pixels.shape[-2:], mode="nearest")[:, 0]
    valid = torch.isfinite(targets) & (targets > 0) & (targets <= settings.max_depth)
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.learning_rate)
    order = np.random.default_rng(settings.seed)
    model.train()
    for step in range(settings.steps):
        batch = torch.from_numpy(order.choice(len(images), size=min(settings.batch_size, len(images)), replace=False))
        loss = silog_loss(model(pixel_values=pixels[batch]).predicted_depth.clamp_min(1e-3), targets[batch],
                          valid[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % max(1, settings.steps // 10) == 0 or step == settings.steps - 1:
            log(f"step {step + 1}/{settings.steps}: silog {loss.item():.4f}")
    model.eval()
    with atomic_directory(out) as scratch:
        model.save_pretrained(scratch)
        processor.save_pretrained(scratch)
