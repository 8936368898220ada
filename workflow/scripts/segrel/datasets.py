"""One loader for the real datasets and the embedded demo: both have the same on-disk layout.

``list_samples(format, root, split, subset)`` enumerates (image, label) pairs in a stable
order; ``read_label`` returns Cityscapes train ids (0..18, 255 = void) for segmentation sets,
or the anomaly mask (0 / 1 / 255) for SMIYC. Labels are decoded from the datasets' original id
images (Cityscapes/ACDC ``labelIds``, IDD ``labellevel3Ids``) with the label tables in
:mod:`segrel.labels`, so no pre-converted train-id files are needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from . import labels as lb


@dataclass(frozen=True)
class Sample:
    name: str  # unique within a test set; used to name per-image outputs
    image: Path
    label: Path
    group: str  # city, ACDC sequence, IDD sequence: what a split by location uses


@dataclass(frozen=True)
class _Layout:
    image_glob: str  # relative to root, with {split} and {subset}
    image_suffix: str
    label_dir: str
    label_suffix: str
    table: np.ndarray | None  # id image -> train ids; None = stored values are the labels


LAYOUTS = {
    "cityscapes": _Layout(
        "leftImg8bit/{split}/{subset}/*_leftImg8bit.png", "_leftImg8bit.png",
        "gtFine/{split}/{group}", "_gtFine_labelIds.png", lb.CITYSCAPES_ID_TO_TRAINID,
    ),
    "acdc": _Layout(
        "rgb_anon/{subset}/{split}/*/*_rgb_anon.png", "_rgb_anon.png",
        "gt/{subset}/{split}/{group}", "_gt_labelIds.png", lb.CITYSCAPES_ID_TO_TRAINID,
    ),
    "idd": _Layout(
        "leftImg8bit/{split}/{subset}/*_leftImg8bit.png", "_leftImg8bit.png",
        "gtFine/{split}/{group}", "_gtFine_labellevel3Ids.png", lb.IDD_LEVEL3_TO_TRAINID,
    ),
    "smiyc": _Layout(
        "dataset_AnomalyTrack/images/{split}*.jpg", ".jpg",  # validationNNNN; test images have no labels
        "dataset_AnomalyTrack/labels_masks", "_labels_semantic.png", None,
    ),
}

FORMATS = tuple(LAYOUTS)


def _layout(fmt: str) -> _Layout:
    try:
        return LAYOUTS[fmt]
    except KeyError:
        raise ValueError(f"unknown dataset format {fmt!r}; choose one of {', '.join(FORMATS)}") from None


def list_samples(fmt: str, root: str | Path, split: str = "val", subset: str = "*") -> list[Sample]:
    """Samples of ``root`` in ``split``; ``subset`` = city / ACDC condition / IDD sequence glob.

    Raises ``FileNotFoundError`` (naming the pattern) when nothing matches, and when an
    image has no label file: a test set that silently shrinks would bias every metric.
    """
    layout = _layout(fmt)
    root = Path(root)
    pattern = layout.image_glob.format(split=split, subset=subset)
    images = sorted(root.glob(pattern))
    if not images:
        raise FileNotFoundError(f"no {fmt} images match {root / pattern}; check the dataset root, split and subset")
    samples = []
    for image in images:
        stem = image.name[: -len(layout.image_suffix)]
        group = image.parent.name
        label_dir = root / layout.label_dir.format(split=split, subset=image.parent.parent.parent.name, group=group)
        label = label_dir / f"{stem}{layout.label_suffix}"
        if not label.is_file():
            raise FileNotFoundError(f"{image} has no label file {label}")
        samples.append(Sample(name=stem, image=image, label=label, group=group))
    return samples


def read_image(path: str | Path) -> np.ndarray:
    """RGB uint8 (H, W, 3)."""
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def read_ids(path: str | Path) -> np.ndarray:
    """The stored single-channel id image (labelIds, level-3 ids or anomaly mask), uint8 (H, W)."""
    with Image.open(path) as image:
        ids = np.asarray(image)
    if ids.ndim != 2:
        raise ValueError(f"{path}: expected a single-channel id image, got shape {ids.shape}")
    return ids


def to_labels(fmt: str, ids: np.ndarray) -> np.ndarray:
    """Stored ids -> train ids (segmentation sets) or the 0/1/255 anomaly mask (SMIYC)."""
    table = _layout(fmt).table
    return ids if table is None else lb.to_train_ids(ids, table)


def read_label(fmt: str, path: str | Path) -> np.ndarray:
    """Train ids (segmentation sets) or the 0/1/255 anomaly mask (SMIYC), uint8 (H, W)."""
    return to_labels(fmt, read_ids(path))


def local_ood_mask(level3_ids: np.ndarray) -> np.ndarray:
    """IDD: True where the pixel's class is absent from Cityscapes (local OOD region)."""
    return np.isin(level3_ids, lb.IDD_LOCAL_OOD_LEVEL3)


def read_local_ood(path: str | Path) -> np.ndarray:
    return local_ood_mask(read_ids(path))
