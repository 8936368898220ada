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
from segrel.stress.catalogue import DEPTH_3D, PAINTED_SCENARIOS, SCENARIOS, check_corruption
from segrel.stress.corruptions import corrupt, corruption_seed


@dataclass(frozen=True)
class StressedSet:
    """The test set (format, root, split, subset) and the corruption a stressed dataset holds."""

    format: str
    root: str
    split: str
    subset: str | list[str]
    name: str  # corruption (segrel.stress.catalogue.CORRUPTIONS)
    severity: int | None  # None for a background scenario
    seed: int
    unknown_ids: str = "error"
    images: int | None = None  # the first images of the test set only (None: all)
    depth_root: str | None = None  # estimated depth (rule estimate_depth) where the dataset ships none

    def depth_of(self, sample: formats.Sample):
        """The sample's :class:`segrel.stress.depth.Depth`: estimated, or from the dataset's files."""
        from segrel.stress.depth import image_depth
        from segrel.stress.depth_estimation import estimated_depth_file, read_estimated_depth

        if self.depth_root is None:
            return image_depth(self.format, sample.image)
        return read_estimated_depth(estimated_depth_file(self.depth_root, self.root, sample.image))

    def seed_of(self, sample: formats.Sample) -> int:
        return corruption_seed(self.seed, sample.name, self.name, self.severity)


def stressed_image(spec: StressedSet, sample: formats.Sample) -> np.ndarray:
    """The corrupted RGB image of one sample (not a scenario: :func:`scenario_sample`)."""
    from segrel.stress.physics import physics_fog, physics_rain

    image = formats.read_image(sample.image)
    if spec.name == "physics_fog":
        return physics_fog(image, spec.depth_of(sample), spec.severity)
    if spec.name == "physics_rain":
        labels = formats.read_label(spec.format, sample.label, spec.unknown_ids)
        return physics_rain(image, spec.depth_of(sample), labels, spec.severity,
                            np.random.default_rng(spec.seed_of(sample)))
    depth = spec.depth_of(sample).depth if spec.name in DEPTH_3D else None
    return corrupt(image, spec.name, spec.severity, spec.seed_of(sample), depth)


def void_id(fmt: str) -> int:
    """The stored label id a format reads as void (Cityscapes' 'unlabeled' 0, IDD's 255)."""
    record = formats.dataset_format(fmt)
    if record.label_table is None:
        return int(formats.VOID_VALUE[record.kind])
    return int(np.flatnonzero(record.label_table == formats.VOID_VALUE[record.kind])[0])


def scenario_sample(spec: StressedSet, sample: formats.Sample, samples: list[formats.Sample], paint=None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """(image, stored label ids) of one sample under background scenario ``spec.name``; the other
    image of random_background is drawn from the sample's seed among the others of ``samples``;
    ai_background's is ``paint(image, objects mask, seed)``
    (:func:`segrel.stress.backgrounds.background_painter`)."""
    from segrel.stress.scenarios import apply_scenario, objects_mask

    stored, image = formats.read_ids(sample.label), formats.read_image(sample.image)
    train_ids = formats.to_labels(spec.format, stored, sample.label, spec.unknown_ids)
    other = None
    if spec.name in PAINTED_SCENARIOS:
        if paint is None:
            raise ValueError(f"{spec.name} is painted by the inpainting model: rule stress_painted_dataset")
        other = paint(image, objects_mask(train_ids), spec.seed_of(sample)), None
    elif spec.name == "random_background":
        others = [candidate for candidate in samples if candidate.name != sample.name]
        if not others:
            raise ValueError(f"random_background needs a second image in {spec.split}/{spec.subset}")
        chosen = others[np.random.default_rng(spec.seed_of(sample)).integers(len(others))]
        other = formats.read_image(chosen.image), formats.read_ids(chosen.label)
    return apply_scenario(spec.name, image, train_ids, stored, void_id=void_id(spec.format), other=other)


def write_stressed_set(spec: StressedSet, out: str | Path, progress=None, paint=None) -> int:
    """Write the corrupted copy of ``spec``'s test set to ``out`` (atomically); the number of images.
    An image keeps its file name (a JPEG-named file of IDD or COCO then holds PNG data: readers
    look at the content, and re-encoding as JPEG would add its own artefacts to the corruption).
    Labels (a COCO set's annotation file) are copied, but for the scenarios that change them
    (written in the format's own ids); a Cityscapes copy also gets the train-id files mmseg
    trains on (void 255). ``paint``: see :func:`scenario_sample`."""
    check_corruption(spec.name, spec.severity)
    root = Path(spec.root)
    samples = formats.list_samples(spec.format, root, spec.split, spec.subset)[: spec.images]
    with atomic_directory(out) as scratch:
        for sample in progress(samples) if progress else samples:
            label = scratch / sample.label.relative_to(root)
            if spec.name in SCENARIOS:
                image, stored = scenario_sample(spec, sample, samples, paint)
                save_png(label, stored)
            else:
                image, stored = stressed_image(spec, sample), None
                if not label.exists():  # a COCO set's one annotation file serves every image
                    label.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(sample.label, label)
            save_png(scratch / sample.image.relative_to(root), image)
            if spec.format == "cityscapes":  # mmseg's CityscapesDataset trains on them
                stored = formats.read_ids(sample.label) if stored is None else stored
                save_png(_train_ids_file(label),
                         formats.to_labels(spec.format, stored, sample.label, spec.unknown_ids).astype(np.uint8))
    return len(samples)


def _train_ids_file(label: Path) -> Path:
    """Cityscapes' ``*_gtFine_labelTrainIds.png`` beside its ``*_gtFine_labelIds.png``."""
    return label.with_name(label.name.replace("_labelIds.png", "_labelTrainIds.png"))
