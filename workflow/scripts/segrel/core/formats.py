"""Dataset formats: one record per format (:data:`FORMATS`), and one loader for the real datasets
and the embedded demo, which share the on-disk layout.

A format's record holds its kind (segmentation / anomaly / detection), on-disk layout, label
table, local-OOD ids, how the real data is obtained and prepared, and which demo writer stands in
for it; adding a format is adding one record (the config schema's ``format`` enum is filled from
it).

``list_samples(format, root, split, subset)`` enumerates (image, label) pairs in a stable
order (a detection set's label is its split's COCO annotation file, the same for every image);
``read_label`` returns Cityscapes train ids (0..18, 255 = void) for segmentation sets,
or the anomaly mask (0 / 1 / 255) for SMIYC. Labels are decoded from the datasets' original id
images (Cityscapes/ACDC ``labelIds``, IDD ``labellevel3Ids``) with the label tables in
:mod:`segrel.core.labels`, so no pre-converted train-id files are needed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from segrel.core import labels as lb


@dataclass(frozen=True)
class Sample:
    name: str  # unique within a test set; used to name per-image outputs
    image: Path
    label: Path
    group: str  # city, ACDC sequence, IDD sequence: what a split by location uses


@dataclass(frozen=True)
class Layout:
    """Where a format keeps its images and labels, relative to the dataset root."""

    image_glob: str  # with {split} and {subset}
    image_suffix: str
    label_dir: str  # with {split}, {subset} (the image's grand-grandparent folder) and {group}
    label_suffix: str
    top_folders: tuple[str, ...]  # what a prepared dataset has at its root
    splits: tuple[str, ...]  # splits a prepared dataset must have complete (every image labelled)
    annotations: str = ""  # one annotation file per split (with {split}), instead of a label file per image


@dataclass(frozen=True)
class Package:
    """One archive a publisher distributes."""

    name: str  # archive file name
    checksum: str | None = None  # published "<md5|sha256>:<hex>", when the server does not give one
    path: str = ""  # for protocol "url": path under the source's base URL


@dataclass(frozen=True)
class Source:
    """How a real dataset is obtained (see :mod:`segrel.data.acquisition`)."""

    protocol: str  # cityscapes | acdc | url | none (archives from disk or a user's URL only)
    base: str  # the publisher's base URL (``mirror`` in the config replaces it)
    packages: tuple[Package, ...]
    registration: str  # where a person gets access (named in every error)
    credentials: tuple[str, str] | None = None  # environment variables (user, password)
    depth_packages: tuple[Package, ...] = ()  # fetched too with datasets.<name>.depth: true

    @property
    def package_names(self) -> list[str]:
        return [package.name for package in self.packages]

    def package(self, name: str) -> Package | None:
        return next((package for package in self.packages + self.depth_packages if package.name == name), None)


@dataclass(frozen=True)
class DatasetFormat:
    """Everything segrel knows of one dataset format; every stage reads it from here."""

    name: str
    kind: str  # "segmentation" (train-id labels), "anomaly" (0 / 1 / 255 masks) or "detection" (COCO boxes)
    layout: Layout
    label_table: np.ndarray | None  # stored id image -> train ids; None = stored values are the labels
    source: Source
    demo_writer: str | None  # function of segrel.data.demo.writers that writes the embedded demo's copy
    demo_argument: str | None = None  # the writer's argument for config['demo'][name] (None: its keys are arguments)
    local_ood_ids: tuple[int, ...] = ()  # stored ids of classes Cityscapes lacks (local OOD regions)
    labels_from_polygons: bool = False  # label images rendered from polygon files after extraction (IDD)
    stored_ids: tuple[int, ...] = ()  # every id its label images may hold; any other is refused (to_labels)

    def demo_arguments(self, demo: dict) -> dict:
        """The writer's keyword arguments from the config's ``demo`` section."""
        common = {key: demo[key] for key in ("seed", "height", "width")}
        section = demo[self.name]
        return {**common, **({self.demo_argument: section} if self.demo_argument else section)}


_CITYSCAPES_LAYOUT = Layout("leftImg8bit/{split}/{subset}/*_leftImg8bit.png", "_leftImg8bit.png",
                            "gtFine/{split}/{group}", "_gtFine_labelIds.png", ("leftImg8bit", "gtFine"),
                            ("train", "val"))

FORMATS: dict[str, DatasetFormat] = {
    "cityscapes": DatasetFormat(
        "cityscapes", "segmentation", _CITYSCAPES_LAYOUT, lb.CITYSCAPES_ID_TO_TRAINID,
        Source("cityscapes", "https://www.cityscapes-dataset.com",
               (Package("gtFine_trainvaltest.zip"), Package("leftImg8bit_trainvaltest.zip")),
               "https://www.cityscapes-dataset.com/register/", ("CITYSCAPES_USERNAME", "CITYSCAPES_PASSWORD"),
               depth_packages=(Package("disparity_trainvaltest.zip"), Package("camera_trainvaltest.zip"))),
        demo_writer="write_cityscapes",
        demo_argument="cities",  # demo.cityscapes: {split: {city: images}}
        stored_ids=lb.CITYSCAPES_LABEL_IDS,
    ),
    "acdc": DatasetFormat(
        "acdc", "segmentation",
        Layout("rgb_anon/{subset}/{split}/*/*_rgb_anon.png", "_rgb_anon.png", "gt/{subset}/{split}/{group}",
               "_gt_labelIds.png", ("rgb_anon", "gt"), ("train", "val")),
        lb.CITYSCAPES_ID_TO_TRAINID,
        # ACDC publishes no checksums: the zip CRCs are checked on extraction
        Source("acdc", "https://acdc.vision.ee.ethz.ch",
               (Package("gt_trainval.zip"), Package("rgb_anon_trainvaltest.zip")),
               "https://acdc.vision.ee.ethz.ch/download (accept the license)"),
        demo_writer="write_acdc",
        stored_ids=lb.CITYSCAPES_LABEL_IDS,
    ),
    "idd": DatasetFormat(
        "idd", "segmentation",
        Layout("leftImg8bit/{split}/{subset}/*_leftImg8bit.png", "_leftImg8bit.png", "gtFine/{split}/{group}",
               "_gtFine_labellevel3Ids.png", ("leftImg8bit", "gtFine"), ("train", "val")),
        lb.IDD_LEVEL3_TO_TRAINID,
        Source("none", "https://idd.insaan.iiit.ac.in", (Package("idd-segmentation.tar.gz"),),
               "https://idd.insaan.iiit.ac.in/dataset/download/ "
               "(register, then 'IDD - Segmentation (IDD 20k Part I)')"),
        demo_writer="write_idd",
        local_ood_ids=lb.IDD_LOCAL_OOD_LEVEL3,
        labels_from_polygons=True,
        stored_ids=(*lb.IDD_LEVEL3_NAMES, lb.VOID),  # 255: unlabeled and the void classes
    ),
    "smiyc": DatasetFormat(
        "smiyc", "anomaly",
        # validationNNNN; the test images have no labels
        Layout("dataset_AnomalyTrack/images/{split}*.jpg", ".jpg", "dataset_AnomalyTrack/labels_masks",
               "_labels_semantic.png", ("dataset_AnomalyTrack",), ("validation",)),
        None,
        # the MD5 Zenodo publishes for the file
        Source("url", "https://zenodo.org",
               (Package("dataset_AnomalyTrack.zip", "md5:231bf79ed58924bcd33d9cbe22e61076",
                        "/record/5270237/files/dataset_AnomalyTrack.zip"),),
               "https://segmentmeifyoucan.com/datasets (public)"),
        demo_writer="write_smiyc",
        stored_ids=lb.ANOMALY_VALUES,
    ),
    # DetecBench's COCO val2017: boxes of 80 classes in one COCO file per split (read by the detect
    # stage only); the archives' MD5s as TensorFlow Datasets and MLPerf's download scripts pin them
    "coco": DatasetFormat(
        "coco", "detection",
        Layout("{split}/*.jpg", ".jpg", "", "", ("val2017", "annotations"), ("val2017",),
               annotations="annotations/instances_{split}.json"),
        None,
        Source("url", "http://images.cocodataset.org",
               (Package("val2017.zip", "md5:442b8da7639aecaf257c1dceb8ba8c80", "/zips/val2017.zip"),
                Package("annotations_trainval2017.zip", "md5:f4bbac642086de4f52a3fdda2de5fa2c",
                        "/annotations/annotations_trainval2017.zip")),
               "https://cocodataset.org/#download (public)"),
        demo_writer="write_coco",
    ),
    # what the generate stage writes for its inpainted anomalies: RoadAnomaly21's layout with
    # lossless PNG images (a JPEG would add compression artefacts to the repainted region only,
    # a cue no real anomaly carries); made only by segrel, never downloaded
    "smiyc_png": DatasetFormat(
        "smiyc_png", "anomaly",
        Layout("dataset_AnomalyTrack/images/{split}*.png", ".png", "dataset_AnomalyTrack/labels_masks",
               "_labels_semantic.png", ("dataset_AnomalyTrack",), ("validation",)),
        None,
        Source("none", "", (), "the generate stage makes it (generation.anomalies)"),
        demo_writer=None,
        stored_ids=lb.ANOMALY_VALUES,
    ),
}

#: the format of the generate stage's inpainted anomaly sets
GENERATED_ANOMALY_FORMAT = "smiyc_png"
#: formats only segrel's generate stage writes
GENERATED_ONLY = tuple(name for name, record in FORMATS.items() if not record.source.packages and
                       record.demo_writer is None)


def dataset_format(fmt: str) -> DatasetFormat:
    """The record of a format name, or one error listing the known ones."""
    try:
        return FORMATS[fmt]
    except KeyError:
        raise ValueError(f"unknown dataset format {fmt!r}; choose one of {', '.join(FORMATS)}") from None


def list_samples(fmt: str, root: str | Path, split: str = "val", subset: str | Sequence[str] = "*") -> list[Sample]:
    """Samples of ``root`` in ``split``; ``subset`` = city / ACDC condition / IDD sequence glob,
    or a list of them (their union, e.g. RELIS' calibration cities ``[lindau, munster]``).

    Raises ``FileNotFoundError`` (naming the pattern) when a glob matches nothing, and when an
    image has no label file: a test set that silently shrinks would bias every metric.
    """
    layout = dataset_format(fmt).layout
    root = Path(root)
    images = set()
    for glob in [subset] if isinstance(subset, str) else subset:
        pattern = layout.image_glob.format(split=split, subset=glob)
        matched = set(root.glob(pattern))
        if not matched:
            raise FileNotFoundError(f"no {fmt} images match {root / pattern}; check the dataset root, split and "
                                    "subset")
        images |= matched
    images = sorted(images)
    if layout.annotations:  # every image of the split is described by one COCO file
        annotations = root / layout.annotations.format(split=split)
        if not annotations.is_file():
            raise FileNotFoundError(f"{root / split} has no annotation file {annotations}")
        return [Sample(name=image.name[: -len(layout.image_suffix)], image=image, label=annotations,
                       group=image.parent.name) for image in images]
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
    return np.asarray(_open(path, "RGB"))


def _open(path: str | Path, mode: str | None = None) -> Image.Image:
    """The decoded image (converted to ``mode``); a damaged or truncated file is one error naming it."""
    try:
        with Image.open(path) as image:
            image.load()
            return image.convert(mode) if mode else image.copy()
    except (OSError, SyntaxError) as error:  # PIL: "image file is truncated", "cannot identify image file"
        if isinstance(error, FileNotFoundError):
            raise
        raise ValueError(f"{path}: cannot be read as an image ({error}); restore it from the dataset's archive "
                         "or re-run the rule that wrote it") from None


def read_ids(path: str | Path) -> np.ndarray:
    """The stored single-channel id image (labelIds, level-3 ids or anomaly mask), uint8 (H, W)."""
    ids = np.asarray(_open(path))
    if ids.ndim != 2:
        raise ValueError(f"{path}: expected a single-channel id image, got shape {ids.shape}")
    return ids


#: what a label id the format does not know becomes: refused ("error") or void ("void", for a
#: dataset known to carry such ids: datasets.<name>.unknown_ids)
UNKNOWN_IDS = ("error", "void")


def to_labels(fmt: str, ids: np.ndarray, source: str | Path = "a label image", unknown_ids: str = "error"
              ) -> np.ndarray:
    """Stored ids -> train ids (segmentation sets) or the 0/1/255 anomaly mask (SMIYC). An id the
    format does not have is an error naming ``source``, the ids and the valid ones (a silent
    void would drop those pixels from every metric), or void with ``unknown_ids="void"``.

    >>> to_labels("smiyc", np.array([[0, 1, 7]], np.uint8), "x.png")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ValueError: x.png: label ids that smiyc does not have: 7 (1 px) (valid: 0, 1, 255); fix the file, or ...
    """
    if unknown_ids not in UNKNOWN_IDS:
        raise ValueError(f"unknown_ids must be one of {', '.join(UNKNOWN_IDS)}, not {unknown_ids!r}")
    record = dataset_format(fmt)
    counts = np.bincount(ids.ravel(), minlength=256)
    unknown = np.setdiff1d(np.flatnonzero(counts), record.stored_ids) if record.stored_ids else []
    if len(unknown) and unknown_ids == "error":
        found = ", ".join(f"{value} ({int(counts[value])} px)" for value in unknown[:5])
        raise ValueError(f"{source}: label ids that {fmt} does not have: {found} (valid: "
                         f"{_id_ranges(record.stored_ids)}); fix the file, or set unknown_ids: void for this "
                         "dataset if it is known to carry such ids")
    labels = ids if record.label_table is None else lb.to_train_ids(ids, record.label_table)
    if len(unknown):  # unknown_ids: void
        labels = np.where(np.isin(ids, unknown), VOID_VALUE[record.kind], labels).astype(np.uint8)
    return labels


#: the void value of each kind of label
VOID_VALUE = {"segmentation": lb.VOID, "anomaly": lb.ANOMALY_VOID}


def _id_ranges(ids) -> str:
    """'0-33' or '0-25, 255': runs of consecutive ids."""
    runs, ids = [], sorted(ids)
    start = previous = ids[0]
    for value in [*ids[1:], None]:
        if value is not None and value == previous + 1:
            previous = value
            continue
        runs.append(f"{start}-{previous}" if previous > start + 1 else ", ".join(map(str, range(start, previous + 1))))
        if value is not None:
            start = previous = value
    return ", ".join(runs)


def read_label(fmt: str, path: str | Path, unknown_ids: str = "error") -> np.ndarray:
    """Train ids (segmentation sets) or the 0/1/255 anomaly mask (SMIYC), uint8 (H, W)."""
    if dataset_format(fmt).kind == "detection":
        raise ValueError(f"{path}: a {fmt} dataset has boxes (read by the detect stage), not label images")
    return to_labels(fmt, read_ids(path), path, unknown_ids)


def local_ood_mask(fmt: str, stored_ids: np.ndarray) -> np.ndarray:
    """True where the pixel's class is absent from Cityscapes (local OOD region; IDD's extra classes)."""
    return np.isin(stored_ids, dataset_format(fmt).local_ood_ids)
