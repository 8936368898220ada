"""Detections per (detector, test set, shard), and COCO mAP from the merged detections.

COCO mAP is not additive over images: a shard saves its detections (boxes in original image
coordinates, scores, labels, per image), shards merge by concatenation, and the metrics are
computed once from all of them with mmdet's CocoMetric (pycocotools' COCOeval), restricted to
the images that were evaluated (CocoMetric would otherwise count every image of the annotation
file, e.g. all of Cityscapes val for its frankfurt subset). A test set is the one the
segmentation stage evaluates (a Cityscapes-layout root, clean or a corrupted copy with the same
file names, with the COCO boxes of its source split) or a COCO one (val2017 and its copies);
attacked sets attack the detector on the fly (:mod:`segrel.detect.attacks`).
"""

from __future__ import annotations

import contextlib
import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from segrel.core import formats
from segrel.detect.annotations import DETECTION_CLASSES

#: CocoMetric's bbox metrics, as its result keys name them (rounded to 3 decimals, as mmdet reports)
METRICS = ("bbox_mAP", "bbox_mAP_50", "bbox_mAP_75", "bbox_mAP_s", "bbox_mAP_m", "bbox_mAP_l")


@dataclass(frozen=True)
class DetectionTestSet:
    """What a detect job reads for one test set (the rule's params)."""

    root: str  # images in the format's layout (a corrupted copy keeps the original file names)
    split: str
    subset: str | list[str]
    annotations: str  # COCO boxes of the source dataset's split (segrel.detect.annotations, or COCO's own)
    attack: dict | None = None  # segrel.detect.attacks.DetectionAttack's fields
    format: str = "cityscapes"  # the dataset format, and so the label space (detectors.LABEL_SPACES)
    images: int | None = None  # the first this many images only (None: all)

    def samples(self) -> list[formats.Sample]:
        samples = formats.list_samples(self.format, self.root, self.split, self.subset)[: self.images]
        images = self.attack.get("images") if self.attack else None
        return samples[:images]


@dataclass
class Detections:
    """Each evaluated image's detections: ``boxes`` (N, 4) x1 y1 x2 y2 in original pixels,
    ``scores`` (N,), ``labels`` (N,) class indices of ``classes``, per image name; ``curve``: an
    attacked set's detections after each attack iteration t = 0 .. iterations - 1 (0: the start),
    when its attack keeps them (``curve: true``)."""

    image_names: list[str] = field(default_factory=list)
    image_ids: list[int] = field(default_factory=list)  # ids in the annotation file
    boxes: list[np.ndarray] = field(default_factory=list)
    scores: list[np.ndarray] = field(default_factory=list)
    labels: list[np.ndarray] = field(default_factory=list)
    attack: str = ""  # the attack's settings (json), "" for none: shards of different attacks do not merge
    classes: tuple[str, ...] = tuple(DETECTION_CLASSES.values())  # the detector's, by label index
    curve: list[Detections] = field(default_factory=list)

    def add(self, name: str, image_id: int, boxes, scores, labels) -> None:
        self.image_names.append(name)
        self.image_ids.append(int(image_id))
        self.boxes.append(np.asarray(boxes, np.float32).reshape(-1, 4))
        self.scores.append(np.asarray(scores, np.float32).reshape(-1))
        self.labels.append(np.asarray(labels, np.int64).reshape(-1))

    def add_results(self, names, results) -> None:
        """mmdet's ``test_step`` results of the images called ``names``."""
        for name, result in zip(names, results, strict=True):
            predicted = result.pred_instances
            self.add(name, result.img_id, predicted.bboxes.cpu().numpy(), predicted.scores.cpu().numpy(),
                     predicted.labels.cpu().numpy())

    def _empty(self) -> Detections:
        return Detections(attack=self.attack, classes=self.classes,
                          curve=[step._empty() for step in self.curve])

    def _copy_image(self, source: Detections, index: int) -> None:
        """Image ``index`` of ``source`` (and of its curve) appended to this one."""
        self.add(source.image_names[index], source.image_ids[index], source.boxes[index], source.scores[index],
                 source.labels[index])
        for mine, theirs in zip(self.curve, source.curve, strict=True):
            mine._copy_image(theirs, index)

    def merge(self, other: Detections) -> Detections:
        if (other.attack, other.classes, len(other.curve)) != (self.attack, self.classes, len(self.curve)):
            raise ValueError(f"cannot merge detections of different attacks or classes: {self.attack!r} and "
                             f"{other.attack!r}, {self.classes} and {other.classes}")
        overlap = set(self.image_names) & set(other.image_names)
        if overlap:
            raise ValueError(f"{len(overlap)} image(s) in two shards (e.g. {sorted(overlap)[0]})")
        merged = self._empty()
        for source in (self, other):
            for index in range(len(source.image_names)):
                merged._copy_image(source, index)
        return merged

    def subset(self, names) -> Detections:
        """The detections of the images called ``names`` (every one must have been evaluated)."""
        position = {name: index for index, name in enumerate(self.image_names)}
        missing = [name for name in names if name not in position]
        if missing:
            raise ValueError(f"{len(missing)} image(s) were not evaluated (e.g. {missing[0]})")
        chosen = self._empty()
        for name in names:
            chosen._copy_image(self, position[name])
        return chosen

    def _arrays(self, prefix: str = "") -> dict[str, np.ndarray]:
        counts = np.array([len(scores) for scores in self.scores], np.int64)
        arrays = {"image_names": np.array(self.image_names, dtype=str), "image_ids": np.array(self.image_ids, np.int64),
                  "counts": counts, "boxes": np.concatenate(self.boxes or [np.zeros((0, 4), np.float32)]),
                  "scores": np.concatenate(self.scores or [np.zeros(0, np.float32)]),
                  "labels": np.concatenate(self.labels or [np.zeros(0, np.int64)])}
        arrays = {prefix + key: value for key, value in arrays.items()}
        for iteration, step in enumerate(self.curve):
            arrays |= step._arrays(f"{prefix}curve{iteration}_")
        return arrays

    def save(self, path) -> None:
        np.savez_compressed(path, **self._arrays(), attack=np.array(self.attack),
                            classes=np.array(self.classes, dtype=str), curve_length=np.array(len(self.curve)))

    @classmethod
    def load(cls, path) -> Detections:
        with np.load(path) as data:
            attack, classes = str(data["attack"]), tuple(map(str, data["classes"]))
            length = int(data["curve_length"]) if "curve_length" in data else 0
            detections = cls._from_arrays(data, "", attack, classes)
            detections.curve = [cls._from_arrays(data, f"curve{t}_", attack, classes) for t in range(length)]
        return detections

    @classmethod
    def _from_arrays(cls, data, prefix: str, attack: str, classes: tuple[str, ...]) -> Detections:
        detections = cls(attack=attack, classes=classes)
        ends = np.cumsum(data[prefix + "counts"])
        for index, (name, image_id) in enumerate(zip(data[prefix + "image_names"], data[prefix + "image_ids"])):
            rows = slice(int(ends[index - 1]) if index else 0, int(ends[index]))
            detections.add(str(name), int(image_id), data[prefix + "boxes"][rows], data[prefix + "scores"][rows],
                           data[prefix + "labels"][rows])
        return detections


def load_merged(paths) -> Detections:
    """The detections of a test set's shard files, merged."""
    paths = list(paths)
    if not paths:
        raise ValueError("no shard files to merge")
    merged = Detections.load(paths[0])
    for path in paths[1:]:
        merged = merged.merge(Detections.load(path))
    return merged


def coco_metrics(detections: Detections, annotations: str | Path) -> dict[str, float]:
    """mmdet's CocoMetric (bbox) of ``detections`` against the COCO file ``annotations``, over the
    evaluated images only; pycocotools' printed summary goes to the log (stderr)."""
    import sys

    from mmdet.evaluation import CocoMetric

    if not detections.image_names:
        raise ValueError("no image was evaluated: an empty test set has no mAP")
    metric = CocoMetric(ann_file=str(annotations), metric="bbox")
    metric.dataset_meta = {"classes": detections.classes}
    metric.img_ids = sorted(detections.image_ids)
    results = [({"img_id": image_id}, {"img_id": image_id, "bboxes": boxes, "scores": scores, "labels": labels})
               for image_id, boxes, scores, labels in zip(detections.image_ids, detections.boxes,
                                                          detections.scores, detections.labels)]
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        # CocoMetric (pycocotools' loadRes) gives up on a set without any detection: every box is missed
        values = metric.compute_metrics(results) if any(len(s) for s in detections.scores) else \
            _without_detections(metric)
    print(printed.getvalue(), file=sys.stderr, end="")
    return {name: float(values[name]) for name in METRICS}


def _without_detections(metric) -> dict[str, float]:
    """CocoMetric's bbox values when nothing was detected: COCOeval on an empty result set (0 where
    there are boxes to find, -1 for a size range without any), rounded as CocoMetric rounds."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    truth = metric._coco_api
    found = COCO()
    found.dataset = {"images": truth.dataset["images"], "categories": truth.dataset["categories"], "annotations": []}
    found.createIndex()
    evaluation = COCOeval(truth, found, "bbox")
    evaluation.params.imgIds = metric.img_ids
    evaluation.params.catIds = truth.get_cat_ids(cat_names=metric.dataset_meta["classes"])
    evaluation.evaluate()
    evaluation.accumulate()
    evaluation.summarize()
    return {name: round(float(value), 3) for name, value in zip(METRICS, evaluation.stats[:6])}


def detect_shard(model, test_set: DetectionTestSet, shard: int, shards: int, *, batch_size: int, progress=None
                 ) -> Detections:
    """The detections of one shard of ``test_set``, attacked as its ``attack`` says."""
    from segrel.core.sharding import shard_samples

    samples = shard_samples(test_set.samples(), shard, shards)
    if not samples:
        raise ValueError(f"shard {shard} of {shards} of {test_set.root} ({test_set.split}/{test_set.subset}) has "
                         "no image: an empty set has no mAP")
    loader = TestSetLoader(model, test_set)
    perturb = None
    if test_set.attack:
        from segrel.detect.attacks import DetectionAttack, DetectorBatchAttack

        perturb = DetectorBatchAttack(model, DetectionAttack(**test_set.attack))
    detections = Detections(attack=perturb.settings.to_json() if perturb else "",
                            classes=tuple(model.dataset_meta["classes"]))
    if perturb is not None and perturb.settings.curve:
        detections.curve = [detections._empty() for _ in range(perturb.settings.iterations)]

    def record(iteration, data, batch):  # the detections of an attack's iterate (its curve)
        with torch.no_grad():
            detections.curve[iteration].add_results([sample.name for sample in batch], model.test_step(data))

    batches = [samples[i : i + batch_size] for i in range(0, len(samples), batch_size)]
    for batch in progress(batches) if progress else batches:
        data = loader.batch(batch)
        if perturb is not None:
            data["inputs"] = perturb(data, batch, record if detections.curve else None)
        with torch.no_grad():
            detections.add_results([sample.name for sample in batch], model.test_step(data))
    return detections


class TestSetLoader:
    """A test set's images as mmdet's test dataloader gives them: its CityscapesDataset or
    CocoDataset on the COCO boxes (mmdet's own parsing: crowd boxes ignored, classes mapped by
    name) and the detector's own test pipeline, by image file name; an image the annotation file
    lacks is an error."""

    def __init__(self, model, test_set: DetectionTestSet):
        from mmdet.registry import DATASETS
        from mmdet.utils import register_all_modules

        from segrel.detect.detectors import detection_dataset

        register_all_modules(init_default_scope=True)
        self.dataset = DATASETS.build(detection_dataset(test_set.format, test_set.annotations, test_set.root,
                                                        test_set.split, model.cfg.test_pipeline, test_mode=True))
        self.index = {Path(self.dataset.get_data_info(i)["img_path"]).name: i for i in range(len(self.dataset))}
        self.test_set = test_set

    def batch(self, samples: list[formats.Sample]) -> dict:
        from mmengine.dataset import pseudo_collate

        missing = [sample.image.name for sample in samples if sample.image.name not in self.index]
        if missing:
            raise ValueError(f"{self.test_set.annotations} does not match the images of {self.test_set.root}: "
                             f"{len(missing)} image(s) have no entry (e.g. {missing[0]}); rebuild the annotations "
                             "of a Cityscapes-layout set (rule detection_annotations), or give a COCO set the "
                             "annotation file of its own images")
        return pseudo_collate([self.dataset[self.index[sample.image.name]] for sample in samples])
