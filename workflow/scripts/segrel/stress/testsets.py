"""A corrupted variant of a test set, written once as a dataset of its own (same format and
layout, corrupted images, the same label files) that every model's evaluation job reads: the
corruption costs one pass over the images, not one per model (see the README's stress section
for the measured costs and disk sizes)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from segrel.core import formats
from segrel.core.io import atomic_directory, save_png
from segrel.stress.catalogue import DEPTH_3D, check_corruption
from segrel.stress.corruptions import corrupt, corruption_seed


@dataclass(frozen=True)
class StressedSet:
    """The test set (format, root, split, subset) and the corruption a stressed dataset holds."""

    format: str
    root: str
    split: str
    subset: str | list[str]
    name: str  # corruption (segrel.stress.catalogue.CORRUPTIONS)
    severity: int
    seed: int
    unknown_ids: str = "error"


def stressed_image(spec: StressedSet, sample: formats.Sample) -> np.ndarray:
    """The corrupted RGB image of one sample, seeded by (study seed, image, corruption, severity)."""
    from segrel.stress.depth import image_depth
    from segrel.stress.physics import physics_fog, physics_rain

    image = formats.read_image(sample.image)
    seed = corruption_seed(spec.seed, sample.name, spec.name, spec.severity)
    if spec.name == "physics_fog":
        return physics_fog(image, image_depth(spec.format, sample.image), spec.severity)
    if spec.name == "physics_rain":
        labels = formats.read_label(spec.format, sample.label, spec.unknown_ids)
        return physics_rain(image, image_depth(spec.format, sample.image), labels, spec.severity,
                            np.random.default_rng(seed))
    depth = image_depth(spec.format, sample.image).depth if spec.name in DEPTH_3D else None
    return corrupt(image, spec.name, spec.severity, seed, depth)


def write_stressed_set(spec: StressedSet, out: str | Path, progress=None) -> int:
    """Write the corrupted copy of ``spec``'s test set to ``out`` (atomically); the number of images.
    An image keeps its file name (a JPEG-named file of IDD then holds PNG data: readers look at
    the content, and re-encoding as JPEG would add its own artefacts to the corruption)."""
    check_corruption(spec.name, spec.severity)
    root = Path(spec.root)
    samples = formats.list_samples(spec.format, root, spec.split, spec.subset)
    with atomic_directory(out) as scratch:
        for sample in progress(samples) if progress else samples:
            save_png(scratch / sample.image.relative_to(root), stressed_image(spec, sample))
            label = scratch / sample.label.relative_to(root)
            label.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(sample.label, label)
    return len(samples)
