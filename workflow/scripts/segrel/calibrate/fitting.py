"""Fit a model's calibrators on one calibration set: one forward pass per calibration image
gives the sampled pixels' logits and labels (drawn as evaluation draws them), the image
features of clustering TS and, for local TS, the whole logit maps (kept on disk)."""

from __future__ import annotations

import dataclasses
import functools
import tempfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from segrel.calibrate.calibrators import (
    ClusteredTemperature,
    LocalTemperature,
    Temperature,
    normalise_image,
    preprocessor_statistics,
)
from segrel.calibrate.checks import calibrator_names
from segrel.calibrate.clustering import backbone_features, fit_clusters
from segrel.calibrate.local import LocalTraining, train_local_temperature
from segrel.calibrate.temperature import TemperatureGrid, fit_temperature
from segrel.core import formats
from segrel.core import labels as lb

AUGMENTATIONS = ("none", "photometric")


@dataclass(frozen=True)
class CalibrationSettings:
    """How every calibrator of a set is fitted (config calibration)."""

    pixels: int = 20_000  # non-void pixels drawn per image, as evaluation draws them
    seed: int = 0  # of the pixel draws (evaluation.seed: the same pixels), clustering, LTS
    batch_size: int = 4
    temperature_fit: str = "ece"  # segrel.calibrate.temperature.METHODS
    grid: TemperatureGrid = TemperatureGrid()
    clusters: tuple[int, ...] = ()  # clustering TS, one calibrator per number of clusters
    soft_clusters: bool = False
    local: LocalTraining | None = None  # local TS, when set

    @classmethod
    def from_config(cls, spec: dict) -> CalibrationSettings:
        """From a rule's params (workflow/rules/functions/calibrate.smk, calibration_settings)."""
        temperature, local = spec["temperature"], spec["local"]
        return cls(pixels=spec["pixels"], seed=spec["seed"], batch_size=spec["batch_size"],
                   temperature_fit=temperature["fit"], grid=TemperatureGrid(**temperature["grid"]),
                   clusters=tuple(spec["clusters"]), soft_clusters=spec["soft_clusters"],
                   local=None if local is None else LocalTraining(
                       epochs=local["epochs"], max_images=local["max_images"], held_out=local["held_out"],
                       patience=local["patience"], learning_rate=local["learning_rate"],
                       batch_size=local["batch_size"], seed=spec["seed"]))

    def methods(self) -> list[str]:
        """The calibrators' names, in the order they are fitted."""
        return calibrator_names(self.clusters, self.local is not None)


@dataclass(frozen=True)
class Source:
    """Images of a calibration set: one test set's samples, optionally augmented."""

    name: str
    format: str
    samples: Sequence
    unknown_ids: str = "error"
    augmentation: str = "none"


@dataclass
class CalibrationData:
    """Per calibration image: its sampled pixels' logits (n, C) and labels (n,), its feature
    (clustering) and, with LTS, the path of its stored (logits, image, labels)."""

    logits: list = field(default_factory=list)
    labels: list = field(default_factory=list)
    features: list = field(default_factory=list)
    maps: list = field(default_factory=list)


def capped(sources: Sequence[Source], max_images: int | None, seed: int) -> list[Source]:
    """``sources`` with at most ``max_images`` images in all: a seeded choice over their joint
    list, each source keeping its chosen images in their order.

    >>> sources = [Source("a", "cityscapes", list("abcdef")), Source("b", "idd", list("xyz"))]
    >>> [len(s.samples) for s in capped(sources, 4, seed=0)], capped(sources, None, 0) == sources
    ([3, 1], True)
    """
    total = sum(len(source.samples) for source in sources)
    if max_images is None or total <= max_images:
        return list(sources)
    keep = set(np.random.default_rng(seed).choice(total, size=max_images, replace=False).tolist())
    out, offset = [], 0
    for source in sources:
        chosen = [sample for index, sample in enumerate(source.samples) if offset + index in keep]
        out.append(dataclasses.replace(source, samples=chosen))
        offset += len(source.samples)
    return out


def collect(model, sources: Sequence[Source], settings: CalibrationSettings, scratch: Path, name: str = "the model",
            progress=None) -> CalibrationData:
    """One forward pass per image of ``sources``: what :func:`fit` needs."""
    from segrel.evaluate.evaluation import draw_calibration_pixels, forward_passes

    data = CalibrationData()
    mean, std = preprocessor_statistics(model)
    for source in sources:
        augmented = None if source.augmentation == "none" else functools.partial(augment, source.augmentation,
                                                                                 seed=settings.seed)
        features = functools.partial(backbone_features, model, name) if settings.clusters else None
        for sample, logits, _, feature in forward_passes(model, source.samples, batch_size=settings.batch_size,
                                                         features=features, images=augmented, progress=progress):
            label = formats.to_labels(source.format, formats.read_ids(sample.label).ravel(), sample.label,
                                      source.unknown_ids)
            picked = draw_calibration_pixels(settings.seed, sample.name, np.flatnonzero(label != lb.VOID),
                                             settings.pixels)
            data.logits.append(logits.float().flatten(1).T[torch.from_numpy(picked)])  # a copy, not a view
            data.labels.append(label[picked])
            data.features.append(feature)
            if settings.local:
                rgb = augmented(sample)[..., ::-1] if augmented else formats.read_image(sample.image)
                data.maps.append(_store(scratch, len(data.maps), logits.float(), normalise_image(rgb, mean, std),
                                        label.reshape(logits.shape[1:])))
    return data


def fit(data: CalibrationData, settings: CalibrationSettings, checkpoints: Path | None = None, resume_key: str = "",
        log=print):
    """({method: calibrator}, report) of one model on one calibration set. LTS saves its epochs
    in ``checkpoints`` and resumes from them only if they were saved under the same
    ``resume_key`` (what identifies the model, the set and the settings)."""
    if not data.logits:
        raise ValueError("the calibration set has no image")
    logits, labels = torch.cat(data.logits), np.concatenate(data.labels)
    if len(labels) < 1000:  # (the drawn pixels are the labelled ones)
        raise ValueError(f"the calibration set has {len(labels)} labelled pixels, too few to fit a "
                         "temperature on (at least 1,000): add images to it")
    temperature = fit_temperature(logits, labels, settings.temperature_fit, settings.grid)
    calibrators = {"temperature": Temperature(temperature)}
    report = {"images": len(data.logits), "pixels": len(labels), "temperature": temperature}
    log(f"temperature scaling: T = {temperature:.2f} on {report['pixels']} pixels of {report['images']} images")
    for clusters in settings.clusters:
        calibrator, sizes = _fit_clustering(data, clusters, temperature, settings)
        calibrators[f"clustering_k{clusters}"] = calibrator
        report[f"clustering_k{clusters}"] = {"temperatures": calibrator.temperatures.tolist(), "images": sizes}
        log(f"clustering TS, {clusters} clusters: T = {np.round(calibrator.temperatures, 2).tolist()}, images {sizes}")
    if settings.local:
        module, report["local"] = train_local_temperature(_StoredMaps(data.maps), settings.local, checkpoints,
                                                          resume_key, log)
        calibrators["local"] = LocalTemperature({k: v.clone() for k, v in module.state_dict().items()},
                                                logits.shape[1])
    return calibrators, report


def _fit_clustering(data: CalibrationData, clusters: int, temperature: float, settings: CalibrationSettings):
    """A ClusteredTemperature and its clusters' image counts. One cluster is temperature scaling
    (RELIS); a cluster left empty by MiniBatchKMeans takes the set's one temperature."""
    features = np.stack(data.features)
    fitted = fit_clusters(features, clusters, settings.seed)
    temperatures, sizes = np.full(clusters, temperature), []
    for cluster in range(clusters):
        members = np.flatnonzero(fitted.labels_ == cluster)
        sizes.append(len(members))
        if clusters > 1 and len(members):
            temperatures[cluster] = fit_temperature(torch.cat([data.logits[i] for i in members]),
                                                    np.concatenate([data.labels[i] for i in members]),
                                                    settings.temperature_fit, settings.grid)
    return ClusteredTemperature(fitted.cluster_centers_, temperatures, settings.soft_clusters), sizes


def augment(augmentation: str, sample, seed: int) -> np.ndarray:
    """The image as the model reads it (BGR, as mmcv loads files), augmented: mmseg's
    PhotoMetricDistortion ("CS aug."), its numpy draws seeded per (seed, image)."""
    if augmentation not in AUGMENTATIONS[1:]:
        raise ValueError(f"unknown calibration augmentation {augmentation!r}; known: {', '.join(AUGMENTATIONS)}")
    from mmseg.datasets.transforms import PhotoMetricDistortion

    np.random.seed(zlib.crc32(f"{seed}/{sample.name}".encode()))
    bgr = np.ascontiguousarray(formats.read_image(sample.image)[..., ::-1])
    return PhotoMetricDistortion().transform({"img": bgr})["img"]


def _store(scratch: Path, index: int, logits: torch.Tensor, image: torch.Tensor, labels: np.ndarray) -> Path:
    """One image's LTS inputs on disk (logits as float16: 80 MB for 19 x 1024 x 2048)."""
    path = Path(scratch) / f"{index:06d}.pt"
    torch.save({"logits": logits.half(), "image": image, "labels": torch.from_numpy(labels.astype(np.uint8))}, path)
    return path


class _StoredMaps(Sequence):
    """LTS' training images, read from disk when a batch needs them."""

    def __init__(self, paths):
        self.paths = list(paths)

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, index):
        saved = torch.load(self.paths[index])
        return saved["logits"].float(), saved["image"], saved["labels"]


def scratch_folder():
    """A temporary folder for LTS' stored maps (removed when the job ends)."""
    return tempfile.TemporaryDirectory(prefix="segrel-lts-")
