"""The embedded demo datasets, written in the real datasets' on-disk layouts.

Each writer generates scenes with :mod:`segrel.data.demo.scenes`, renders them with
:mod:`segrel.data.demo.weather` and writes exactly the files (names, folders, encodings) of the dataset
it stands in for, so :mod:`segrel.core.formats` reads the demo and the real data the same way:

- Cityscapes: ``leftImg8bit/{split}/{city}/{city}_{seq:06d}_000019_leftImg8bit.png``,
  ``gtFine/.../*_gtFine_{labelIds,labelTrainIds,color,instanceIds}.png``, plus the
  ``disparity`` and ``camera`` files (stereo depth and intrinsics) that depth-based
  corruptions need.
- ACDC: ``rgb_anon/{condition}/{split}[_ref]/{sequence}/*_rgb[_ref]_anon.png`` and
  ``gt/{condition}/{split}/{sequence}/*_gt_{labelIds,labelTrainIds,labelColor}.png``; the
  ``_ref`` image is the same place in clear weather, as in ACDC.
- IDD: ``leftImg8bit/{split}/{sequence}/{frame}_leftImg8bit.png`` and
  ``gtFine/{split}/{sequence}/{frame}_gtFine_labellevel3Ids.png`` (IDD level-3 ids).
- SMIYC RoadAnomaly21: ``dataset_AnomalyTrack/images/validation{n:04d}.jpg`` and
  ``labels_masks/validation{n:04d}_labels_semantic.png`` (0 = not anomaly, 1 = anomaly, 255 = void).
- COCO 2017: ``{split}/{image id:012d}.jpg`` and ``annotations/instances_{split}.json`` (the
  boxes of the scenes' people and vehicles, in COCO's 80 categories).

Every image has its own seed derived from (base seed, dataset, split, index), so the bytes do
not depend on the order or the process in which images are made.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path

import cv2
import numpy as np
from cityscapesscripts.helpers.labels import labels as cs_labels

from segrel.core import labels as lb
from segrel.core.io import atomic_directory, save_jpeg, save_png
from segrel.core.logs import progress
from segrel.core.seeds import seed_sequence
from segrel.data.demo.canvas import EXTRA_CLASSES, SKY_DEPTH, class_id
from segrel.data.demo.scenes import CITYSCAPES_STYLE, IDD_STYLE, Scene, SceneStyle, generate_scene
from segrel.data.demo.weather import render

# Cityscapes' stereo baseline (metres), used to turn depth into its disparity encoding.
CITYSCAPES_BASELINE = 0.209313


def _make(seed: np.random.SeedSequence, height: int, width: int, style: SceneStyle, anomalies: int = 0):
    scene_seed, render_seed = seed.spawn(2)
    scene = generate_scene(scene_seed, height, width, style, anomalies=anomalies)
    return scene, np.random.default_rng(render_seed)


def cityscapes_label_ids(scene: Scene) -> np.ndarray:
    """Internal ids are Cityscapes labelIds below 34; anything else is 'unlabeled' (0)."""
    return np.where(scene.labels < 34, scene.labels, 0).astype(np.uint8)


def cityscapes_instance_ids(scene: Scene, label_ids: np.ndarray) -> np.ndarray:
    """Cityscapes encoding: id * 1000 + instance index for instance classes, else the id."""
    out = label_ids.astype(np.uint16)
    has_instance = np.isin(label_ids, list(lb.INSTANCE_CLASS_IDS)) & (scene.instances > 0)
    if has_instance.any():
        _, index = np.unique(scene.instances[has_instance], return_inverse=True)
        out[has_instance] = label_ids[has_instance].astype(np.uint16) * 1000 + index.astype(np.uint16)
    return out


def _write_cityscapes_gt(stem: Path, label_ids: np.ndarray, suffix: str, color_name: str) -> None:
    save_png(stem.with_name(f"{stem.name}_{suffix}_labelIds.png"), label_ids)
    save_png(
        stem.with_name(f"{stem.name}_{suffix}_labelTrainIds.png"),
        lb.to_train_ids(label_ids, lb.CITYSCAPES_ID_TO_TRAINID),
    )
    save_png(stem.with_name(f"{stem.name}_{suffix}_{color_name}.png"), lb.ID_COLORS[label_ids])


def write_cityscapes(root, *, seed: int, height: int, width: int, cities: Mapping[str, Mapping[str, int]]) -> None:
    """Cityscapes-format dataset; ``cities`` maps split -> {city: number of images}."""
    with atomic_directory(root) as out:
        items = [(split, city, index) for split, per_city in cities.items()
                 for city, count in per_city.items() for index in range(count)]
        for split, city, index in progress(items, "cityscapes"):
            name = f"{city}_{index:06d}_000019"
            scene, rng = _make(seed_sequence(seed, "cityscapes", split, city, index), height, width, CITYSCAPES_STYLE)
            image = render(scene, "clear", rng, CITYSCAPES_STYLE.haze)
            save_png(out / "leftImg8bit" / split / city / f"{name}_leftImg8bit.png", image)
            gt_stem = out / "gtFine" / split / city / name
            label_ids = cityscapes_label_ids(scene)
            _write_cityscapes_gt(gt_stem, label_ids, "gtFine", "color")
            save_png(gt_stem.with_name(f"{name}_gtFine_instanceIds.png"), cityscapes_instance_ids(scene, label_ids))
            _write_disparity_and_camera(out, split, city, name, scene)


def _write_disparity_and_camera(out: Path, split: str, city: str, name: str, scene: Scene) -> None:
    cam = scene.camera
    # Cityscapes: disparity d = (p - 1) / 256 for p > 0, p = 0 invalid (sky here).
    disparity = cam.focal * CITYSCAPES_BASELINE / scene.depth
    encoded = np.where(scene.depth < SKY_DEPTH, np.clip(disparity * 256.0 + 1.0, 1, 65535), 0)
    save_png(out / "disparity" / split / city / f"{name}_disparity.png", np.round(encoded).astype(np.uint16))
    camera = {
        "extrinsic": {"baseline": CITYSCAPES_BASELINE, "pitch": 0.0, "roll": 0.0, "x": 0.0, "y": 0.0, "yaw": 0.0,
                      "z": cam.cam_height},
        "intrinsic": {"fx": cam.focal, "fy": cam.focal, "u0": cam.cx, "v0": cam.horizon},
    }
    path = out / "camera" / split / city / f"{name}_camera.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(camera, indent=2, sort_keys=True) + "\n")


def write_acdc(root, *, seed: int, height: int, width: int, conditions: Sequence[str], images: Mapping[str, int],
               images_per_sequence: int = 10) -> None:
    """ACDC-format dataset: for each condition and split, ``images[split]`` frames."""
    with atomic_directory(root) as out:
        items = [(condition, split, index) for condition in conditions
                 for split, count in images.items() for index in range(count)]
        for condition, split, index in progress(items, "acdc"):
            sequence = f"GOPR{zlib.crc32(condition.encode()) % 9000 + 1000 + index // images_per_sequence:04d}"
            frame = f"{sequence}_frame_{index % images_per_sequence * 40 + 1:06d}"
            scene, rng = _make(seed_sequence(seed, "acdc", condition, split, index), height, width, CITYSCAPES_STYLE)
            ref_rng = np.random.default_rng(rng.integers(2**63))
            image = render(scene, condition, rng, CITYSCAPES_STYLE.haze)
            reference = render(scene, "clear", ref_rng, CITYSCAPES_STYLE.haze)
            save_png(out / "rgb_anon" / condition / split / sequence / f"{frame}_rgb_anon.png", image)
            save_png(out / "rgb_anon" / condition / f"{split}_ref" / sequence / f"{frame}_rgb_ref_anon.png", reference)
            _write_cityscapes_gt(out / "gt" / condition / split / sequence / frame,
                                 cityscapes_label_ids(scene), "gt", "labelColor")


def _idd_level3_table() -> np.ndarray:
    """Internal ids -> IDD level-3 ids, by class name (void where IDD has no such class)."""
    table = np.full(256, lb.VOID, dtype=np.uint8)
    aliases = {"parking": "drivable fallback", "terrain": "non-drivable fallback", "caravan": "vehicle fallback",
               "trailer": "vehicle fallback", "train": "vehicle fallback", "polegroup": "pole", "tunnel": "bridge"}
    for label in cs_labels:
        if label.id >= 0:
            name = aliases.get(label.name, label.name)
            if name in lb.IDD_LEVEL3_IDS:
                table[label.id] = lb.IDD_LEVEL3_IDS[name]
    for name, internal in EXTRA_CLASSES.items():
        if name in lb.IDD_LEVEL3_IDS:
            table[internal] = lb.IDD_LEVEL3_IDS[name]
    return table


_INTERNAL_TO_IDD_LEVEL3 = _idd_level3_table()  # built once, not per image


def idd_level3_ids(scene: Scene) -> np.ndarray:
    """The scene's labels as IDD level-3 ids."""
    return _INTERNAL_TO_IDD_LEVEL3[scene.labels]


def write_idd(root, *, seed: int, height: int, width: int, images: Mapping[str, int],
              images_per_sequence: int = 10) -> None:
    """IDD-format dataset (different look and layout, classes Cityscapes lacks)."""
    with atomic_directory(root) as out:
        items = [(split, index) for split, count in images.items() for index in range(count)]
        for split, index in progress(items, "idd"):
            sequence = str(index // images_per_sequence)
            frame = f"{(zlib.crc32(split.encode()) % 900 + 100) * 1000 + index:06d}"
            scene, rng = _make(seed_sequence(seed, "idd", split, index), height, width, IDD_STYLE)
            image = render(scene, "clear", rng, IDD_STYLE.haze)
            save_png(out / "leftImg8bit" / split / sequence / f"{frame}_leftImg8bit.png", image)
            save_png(out / "gtFine" / split / sequence / f"{frame}_gtFine_labellevel3Ids.png", idd_level3_ids(scene))


def anomaly_mask(scene: Scene, void_border: int = 2) -> np.ndarray:
    """RoadAnomaly21 encoding; a thin band around each object and the ego vehicle are void."""
    mask = np.full(scene.labels.shape, lb.ANOMALY_NOT, dtype=np.uint8)
    anomaly = scene.anomaly.astype(np.uint8)
    if void_border > 0:
        kernel = np.ones((2 * void_border + 1, 2 * void_border + 1), np.uint8)
        band = (cv2.dilate(anomaly, kernel) > 0) & ~scene.anomaly
        mask[band] = lb.ANOMALY_VOID
    mask[scene.labels == class_id("ego vehicle")] = lb.ANOMALY_VOID
    mask[scene.anomaly] = lb.ANOMALY_YES
    return mask


def write_smiyc(root, *, seed: int, height: int, width: int, images: int, objects_per_image: Sequence[int]) -> None:
    """SMIYC RoadAnomaly21-format anomaly set: Cityscapes-like scenes with unusual objects."""
    low, high = objects_per_image
    with atomic_directory(root) as out:
        track = out / "dataset_AnomalyTrack"
        for index in progress(range(images), "smiyc"):
            object_rng = np.random.default_rng(seed_sequence(seed, "smiyc-objects", index))
            count = int(object_rng.integers(low, high, endpoint=True))
            scene, rng = _make(seed_sequence(seed, "smiyc", index), height, width, CITYSCAPES_STYLE, anomalies=count)
            image = render(scene, "clear", rng, CITYSCAPES_STYLE.haze)
            name = f"validation{index:04d}"
            save_jpeg(track / "images" / f"{name}.jpg", image)
            save_png(track / "labels_masks" / f"{name}_labels_semantic.png", anomaly_mask(scene))


def anomaly_scenes(*, seed: int, height: int, width: int, images: int):
    """(name, image, anomaly mask) of ``images`` Cityscapes-like scenes with one unusual object
    each, drawn like SMIYC's but from their own seeds (the demo's copy-paste objects for outlier
    training: none of them is an object of the SMIYC set)."""
    for index in range(images):
        scene, rng = _make(seed_sequence(seed, "outlier-objects", index), height, width, CITYSCAPES_STYLE, anomalies=1)
        yield f"outlier-object-{index:04d}", render(scene, "clear", rng, CITYSCAPES_STYLE.haze), scene.anomaly


#: Cityscapes instance classes -> COCO category ids (COCO annotates a rider as a person)
_CITYSCAPES_TO_COCO = {24: 1, 25: 1, 26: 3, 27: 8, 28: 6, 31: 7, 32: 4, 33: 2}


def coco_boxes(instance_ids: np.ndarray) -> list[dict]:
    """COCO annotations (without ids) of a Cityscapes-encoded instance image: one box per
    instance of a class COCO has, ``[x, y, width, height]`` of its pixels as pycocotools
    computes it from a mask (width = last column - first + 1), area = its pixel count, and a
    crowd box for a class region without instances (Cityscapes' id < 1000)."""
    annotations = []
    for instance in np.unique(instance_ids[instance_ids >= 24]):
        category = _CITYSCAPES_TO_COCO.get(int(instance // 1000 if instance >= 1000 else instance))
        if category is None:
            continue
        rows, columns = np.nonzero(instance_ids == instance)
        x, y = int(columns.min()), int(rows.min())
        box = [x, y, int(columns.max()) - x + 1, int(rows.max()) - y + 1]
        annotations.append({"iscrowd": int(instance < 1000), "category_id": category, "bbox": [float(v) for v in box],
                            "area": float(len(rows))})
    return annotations


def write_coco(root, *, seed: int, height: int, width: int, images: Mapping[str, int]) -> None:
    """COCO-format detection set; ``images`` maps split (``train2017``, ``val2017``) -> count."""
    with atomic_directory(root) as out:
        for split, count in images.items():
            first_id = (zlib.crc32(split.encode()) % 900 + 100) * 1000
            entries, annotations = [], []
            for index in progress(range(count), f"coco {split}"):
                image_id = first_id + index
                scene, rng = _make(seed_sequence(seed, "coco", split, index), height, width, CITYSCAPES_STYLE)
                save_jpeg(out / split / f"{image_id:012d}.jpg", render(scene, "clear", rng, CITYSCAPES_STYLE.haze))
                entries.append({"id": image_id, "file_name": f"{image_id:012d}.jpg", "height": height,
                                "width": width})
                label_ids = cityscapes_label_ids(scene)
                for annotation in coco_boxes(cityscapes_instance_ids(scene, label_ids)):
                    annotations.append({**annotation, "image_id": image_id, "id": len(annotations) + 1})
            categories = [{"id": key, "name": name} for key, name in lb.COCO_CATEGORIES.items()]
            path = out / "annotations" / f"instances_{split}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps({"images": entries, "annotations": annotations, "categories": categories}))
