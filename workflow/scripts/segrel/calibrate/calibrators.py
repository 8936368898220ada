"""Fitted calibrators and how they scale a model's logits (logits / T; T a number, one per image
cluster, or one per pixel), saved with the fingerprint of the model they were fitted on.

A calibrator never changes the arg-max (T > 0), so a calibrated evaluation differs from the plain
one in its confidences only. What a calibrator reads besides the logits is declared
(``needs_features``: the image feature of :mod:`segrel.calibrate.clustering`; ``needs_image``:
the normalised RGB image of local TS), so an evaluation computes it only where it is read.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import torch

KINDS = ("temperature", "clustering", "local")


@dataclass(frozen=True)
class Temperature:
    """Temperature scaling: one T for every pixel of every image."""

    value: float
    needs_features = False
    needs_image = False

    def temperature(self, logits: torch.Tensor, image=None, feature=None):
        return self.value

    def state(self) -> dict:
        return {"kind": "temperature", "value": self.value}


@dataclass(frozen=True)
class ClusteredTemperature:
    """Clustering TS (Gong et al.; RELIS): the T of the image feature's nearest cluster centre,
    or with ``soft`` the clusters' T weighted by inverse distance."""

    centres: np.ndarray  # (k, D)
    temperatures: np.ndarray  # (k,)
    soft: bool = False
    needs_features = True
    needs_image = False

    def temperature(self, logits: torch.Tensor, image=None, feature=None):
        from segrel.calibrate.clustering import cluster_temperature

        return cluster_temperature(np.asarray(feature), self.centres, self.temperatures, self.soft)

    def state(self) -> dict:
        return {"kind": "clustering", "centres": self.centres, "temperatures": self.temperatures, "soft": self.soft}


@dataclass(frozen=True)
class LocalTemperature:
    """Local TS (Ding et al.): a temperature per pixel from the logits and the image."""

    weights: dict = field(repr=False)  # the LocalTemperatureScaling module's state dict
    classes: int = 19
    needs_features = False
    needs_image = True

    def temperature(self, logits: torch.Tensor, image=None, feature=None):
        return self.module.to(logits.device)(logits[None].float(), image[None].float())[0]

    @cached_property
    def module(self):
        from segrel.calibrate.local import LocalTemperatureScaling

        module = LocalTemperatureScaling(self.classes)
        module.load_state_dict(self.weights)
        return module.eval()

    def state(self) -> dict:
        return {"kind": "local", "weights": self.weights, "classes": self.classes}


def scale(calibrator, logits: torch.Tensor, image=None, feature=None) -> torch.Tensor:
    """``logits`` (C, H, W) divided by the calibrator's temperature (a number or an (H, W) map)."""
    with torch.no_grad():
        return logits / calibrator.temperature(logits, image=image, feature=feature)


def normalise_image(image: np.ndarray, mean, std) -> torch.Tensor:
    """(H, W, 3) uint8 RGB -> (3, H, W) float32 as the model's data preprocessor normalises it
    (local TS' image input)."""
    tensor = torch.from_numpy(np.array(image)).permute(2, 0, 1).float()  # a copy: RGB views of BGR arrays too
    return (tensor - torch.tensor(mean, dtype=torch.float32)[:, None, None]) / torch.tensor(std)[:, None, None]


def preprocessor_statistics(model) -> tuple[list, list]:
    """(mean, std) of the model's data preprocessor."""
    return model.data_preprocessor.mean.flatten().tolist(), model.data_preprocessor.std.flatten().tolist()


def as_transforms(calibrators: dict, model, name: str = "the model"):
    """({name: logits transform or None}, features) for
    :func:`segrel.evaluate.evaluation.evaluate_transformed_shard`: each calibrator as
    ``f(logits, sample, feature)``, reading the image where it needs it (local TS), and the
    maker of the backbone feature collector where one needs features (clustering TS), else None."""
    from segrel.core import formats

    mean, std = preprocessor_statistics(model)

    def transform(calibrator):
        def apply(logits, sample, feature):
            image = None
            if calibrator.needs_image:
                image = normalise_image(formats.read_image(sample.image), mean, std).to(logits.device)
            return scale(calibrator, logits, image, feature)

        return apply

    transforms = {key: None if calibrator is None else transform(calibrator) for key, calibrator in calibrators.items()}
    if not any(calibrator is not None and calibrator.needs_features for calibrator in calibrators.values()):
        return transforms, None
    from segrel.calibrate.clustering import backbone_features

    return transforms, functools.partial(backbone_features, model, name)


def from_state(state: dict):
    kind = state["kind"]
    if kind == "temperature":
        return Temperature(float(state["value"]))
    if kind == "clustering":
        return ClusteredTemperature(np.asarray(state["centres"]), np.asarray(state["temperatures"]),
                                    bool(state["soft"]))
    if kind == "local":
        return LocalTemperature(state["weights"], int(state["classes"]))
    raise ValueError(f"unknown calibrator kind {kind!r}; known: {', '.join(KINDS)}")


def model_fingerprint(model) -> str:
    """sha256 of the model's parameters and buffers (names, shapes, bytes): calibrators fitted
    on one set of weights are refused for another (:func:`load_calibrators`)."""
    digest = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        digest.update(f"{name}{tuple(tensor.shape)}{tensor.dtype}".encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def save_calibrators(handle, model: str, fingerprint: str, calibrators: dict, report: dict) -> None:
    """One calibration set's fitted calibrators ({name: calibrator}) of one model, with what the
    fit measured (``report``: ECE on the calibration pixels before / after, T, cluster sizes)."""
    torch.save({"model": model, "fingerprint": fingerprint, "report": report,
                "calibrators": {name: calibrator.state() for name, calibrator in calibrators.items()}}, handle)


def load_calibrators(path: str | Path, model: str, fingerprint: str) -> dict:
    """{name: calibrator} of a file :func:`save_calibrators` wrote, refused unless it was fitted
    on these very weights of ``model``."""
    saved = torch.load(path, weights_only=False, map_location="cpu")
    if saved["model"] != model or saved["fingerprint"] != fingerprint:
        raise ValueError(f"{path}: calibrators fitted on model {saved['model']!r} "
                         f"(weights {saved['fingerprint'][:12]}), not on {model!r} (weights {fingerprint[:12]}): "
                         "re-fit them (snakemake --forcerun fit_calibrators)")
    return {name: from_state(state) for name, state in saved["calibrators"].items()}
