"""COCO-format boxes of a Cityscapes-layout dataset, as mmdetection's converter writes them.

mmdet's ``tools/dataset_converters/cityscapes.py`` turns ``*_gtFine_instanceIds.png`` into
``instancesonly_filtered_gtFine_<split>.json``: one annotation per instance id >= 24 whose class
has instances and is evaluated (person, rider, car, truck, bus, train, motorcycle, bicycle; ids
< 1000 are crowd regions), its RLE mask, area and box from pycocotools; image ``file_name`` =
``<city>/<image file>``, relative to ``leftImg8bit/<split>``; category id = the Cityscapes label
id. This module writes exactly that but for the annotation ids, numbered from 1 (see
:func:`coco_annotations`; tests/test_detect.py compares the rest with the converter's output),
for the real dataset and the demo alike, so one loader (mmdet's CityscapesDataset) reads both.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from segrel.core import formats
from segrel.core.io import atomic_file

#: Cityscapes classes with instances that are evaluated, in label-id order (mmdet's
#: CityscapesDataset.METAINFO classes)
DETECTION_CLASSES = {24: "person", 25: "rider", 26: "car", 27: "truck", 28: "bus", 31: "train", 32: "motorcycle",
                     33: "bicycle"}


def annotation_file(split: str) -> str:
    """The converter's file name for a split.

    >>> annotation_file("val")
    'instancesonly_filtered_gtFine_val.json'
    """
    return f"instancesonly_filtered_gtFine_{split}.json"


def instance_annotations(instance_ids: np.ndarray) -> list[dict]:
    """The annotations (without ids) of one ``*_gtFine_instanceIds.png`` (uint16 array)."""
    import pycocotools.mask as mask_utils

    annotations = []
    for instance in np.unique(instance_ids[instance_ids >= 24]):
        label_id = int(instance // 1000 if instance >= 1000 else instance)
        if label_id not in DETECTION_CLASSES:
            continue
        rle = mask_utils.encode(np.asfortranarray((instance_ids == instance)[:, :, None].astype(np.uint8)))[0]
        area, box = mask_utils.area(rle), mask_utils.toBbox(rle)
        rle["counts"] = rle["counts"].decode()
        annotations.append({"iscrowd": int(instance < 1000), "category_id": label_id, "bbox": box.tolist(),
                            "area": area.tolist(), "segmentation": rle})
    return annotations


def instance_file(sample: formats.Sample) -> Path:
    """``*_gtFine_instanceIds.png`` beside a sample's ``*_gtFine_labelIds.png``."""
    return sample.label.with_name(sample.label.name.replace("_labelIds.png", "_instanceIds.png"))


def coco_annotations(root: str | Path, split: str) -> dict:
    """The COCO dict of a Cityscapes-layout dataset's split (every city); an image without an
    instance-id file is an error naming it (cityscapesScripts' archives ship them in gtFine)."""
    samples = formats.list_samples("cityscapes", root, split)
    images, annotations = [], []
    for image_id, sample in enumerate(samples):
        path = instance_file(sample)
        if not path.is_file():
            raise FileNotFoundError(f"{sample.image} has no instance ids {path.name}: detection needs gtFine's "
                                    "*_instanceIds.png files")
        ids = formats.read_ids(path)
        images.append({"file_name": f"{sample.group}/{sample.image.name}", "height": int(ids.shape[0]),
                       "width": int(ids.shape[1]), "segm_file": f"{sample.group}/{sample.label.name}",
                       "id": image_id})
        for annotation in instance_annotations(ids):
            # ids from 1 (the converter's start at 0): pycocotools' COCOeval stores the matched
            # annotation's id as the match, so annotation 0 could never be a true positive
            annotations.append({**annotation, "image_id": image_id, "id": len(annotations) + 1})
    coco = {"images": images, "categories": [{"id": key, "name": name} for key, name in DETECTION_CLASSES.items()]}
    return coco | ({"annotations": annotations} if annotations else {})


def write_coco_annotations(root: str | Path, split: str, out: str | Path) -> dict:
    """:func:`coco_annotations` written (atomically) to ``out``; the dict."""
    coco = coco_annotations(root, split)
    with atomic_file(out) as handle:
        json.dump(coco, handle)
    return coco
