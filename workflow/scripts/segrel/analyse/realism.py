"""How real the synthetic data is: FID and KID between two image sets (a generated set and its
real counterpart, or the real images of its label maps as the reference point).

The distances are torchmetrics' ``FrechetInceptionDistance`` and ``KernelInceptionDistance``.
Each image's features are computed once and fed to both (torchmetrics' custom feature path with
an identity module), so a set costs one pass of the feature extractor:

- ``source: inception``: the FID Inception-v3 (pool3, 2048 features) of torch-fidelity, the
  network every published FID uses (torchmetrics' ``NoTrainInceptionV3`` with torch-fidelity's
  resize, tested equal to torch-fidelity's features); ``weights`` names
  the file on disk for compute nodes without internet (else torch-fidelity downloads it once);
- ``source: demo``: a tiny convolutional network built from ``channels`` with seeded random
  weights (no Inception offline): a distance between the sets' feature statistics, on no scale
  a published FID is on — the table says so in its ``features`` column.

KID uses random subsets (torch's generator, seeded here): its mean and standard deviation over
``kid_subsets`` subsets of ``min(kid_subset_size, smallest set)`` images.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from segrel.core import formats
from segrel.core.settings import SectionSettings


@dataclass(frozen=True, kw_only=True)
class RealismSettings(SectionSettings):
    """``analysis.realism`` (rule realism's ``params.settings``)."""

    SECTION = "analysis.realism"

    source: str  # inception | demo
    weights: str | None = None  # inception: its weights file (torch-fidelity's pt_inception-2015-12-05)
    channels: list | None = None  # demo: the tiny network's channels per stride-2 convolution
    seed: int = 0  # the demo network's weights and KID's subsets
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    batch_size: int = 16

    def describe(self) -> str:
        """What the features are, for the table."""
        if self.source == "inception":
            return "Inception-v3 pool3 (torch-fidelity, 2048)"
        return f"demo: random tiny CNN {self.channels} (seed {self.seed}), not Inception: not a published FID scale"


class TinyFeatures(torch.nn.Module):
    """The demo's feature extractor: stride-2 3x3 convolutions with ReLU, global average pooling;
    uint8 (N, 3, H, W) images in, (N, channels[-1]) features out."""

    def __init__(self, channels, seed: int):
        super().__init__()
        generator = torch.Generator().manual_seed(seed)
        layers, previous = [], 3
        for width in channels:
            conv = torch.nn.Conv2d(previous, width, 3, stride=2, padding=1)
            with torch.no_grad():  # seeded, independent of the process's global generator
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=generator) * (2.0 / (9 * previous)) ** 0.5)
                conv.bias.zero_()
            layers += [conv, torch.nn.ReLU()]
            previous = width
        self.body = torch.nn.Sequential(*layers)
        self.num_features = previous

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.body(images.float() / 255.0).mean(dim=(2, 3))


class _Given(torch.nn.Module):
    """Features computed already: what torchmetrics' metrics are fed."""

    def __init__(self, num_features: int):
        super().__init__()
        self.num_features = num_features

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return features


def feature_extractor(settings: RealismSettings, device: str = "cpu") -> torch.nn.Module:
    """The network whose features the distances compare (eval mode, on ``device``)."""
    if settings.source == "inception":
        from torchmetrics.image.fid import NoTrainInceptionV3

        # antialias=False: torch-fidelity's own TF1-style resize to 299 px, that of published FIDs
        # (torchmetrics' default antialiased resize moved random-weight features by ~20%)
        model = NoTrainInceptionV3(name="inception-v3-compat", features_list=["2048"],
                                   feature_extractor_weights_path=settings.weights, antialias=False)
        model.num_features = 2048
    elif settings.source == "demo":
        model = TinyFeatures(settings.channels, settings.seed)
    else:
        raise ValueError(f"analysis.realism.source must be inception or demo, not {settings.source!r}")
    return model.eval().to(device)


def set_features(model: torch.nn.Module, samples: list[formats.Sample], batch_size: int) -> torch.Tensor:
    """(N, features) of the images of ``samples``, in batches of images of one size."""
    device = next(model.parameters()).device
    features, batch = [], []

    def flush():
        with torch.no_grad():
            images = torch.from_numpy(np.stack(batch)).permute(0, 3, 1, 2).to(device)
            features.append(model(images).double().cpu())
        batch.clear()

    for sample in samples:
        image = formats.read_image(sample.image)
        if batch and (image.shape != batch[0].shape or len(batch) == batch_size):
            flush()
        batch.append(image)
    if batch:
        flush()
    if not features:
        raise ValueError("an image set without images has no feature statistics")
    return torch.cat(features)


def distances(features_a: torch.Tensor, features_b: torch.Tensor, settings: RealismSettings) -> dict[str, float]:
    """FID and KID (mean, std over subsets) of two feature sets, by torchmetrics (``a`` as the
    real set: both distances are symmetric but for KID's subset draws)."""
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance

    size = min(settings.kid_subset_size, len(features_a), len(features_b))
    if size < 2:
        raise ValueError(f"KID needs at least 2 images per set, got {len(features_a)} and {len(features_b)}")
    given = _Given(features_a.shape[1])
    fid = FrechetInceptionDistance(feature=given)
    kid = KernelInceptionDistance(feature=given, subsets=settings.kid_subsets, subset_size=size)
    for metric in (fid, kid):
        metric.update(features_a, real=True)
        metric.update(features_b, real=False)
    torch.manual_seed(settings.seed)  # KID's subsets
    kid_mean, kid_std = kid.compute()
    return {"fid": float(fid.compute()), "kid": float(kid_mean), "kid_std": float(kid_std), "kid_subset_size": size}
