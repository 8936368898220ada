"""Object detectors as (mmdet config, checkpoint) pairs: the demo's training and the loader of the
detect stage, for demo detectors and mmdet's zoo checkpoints alike (as
:mod:`segrel.models.segmentors` does for segmenters, whose runner settings and strict loading
this module shares).

A demo detector starts from one of mmdet's own COCO configs (RetinaNet, FCOS, Faster R-CNN, ...)
with BN instead of SyncBN, no ImageNet weights (nothing can be downloaded), a backbone trained
from scratch (no frozen stage, BN statistics learnt), the classes of its label space (the 8
Cityscapes detection classes, or COCO's 80) and the images resized to ``image_size``; mmdet's
runner trains it on the COCO-format boxes of a Cityscapes-layout train split
(:mod:`segrel.detect.annotations`) or of a COCO train2017.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from segrel.core.labels import COCO_CATEGORIES
from segrel.core.settings import SectionSettings
from segrel.detect.annotations import DETECTION_CLASSES
from segrel.models.zoo import Metafiles, ZooModel

#: mmdetection's metafiles: ``<method>/metafile.yml``, the box AP of their detection result
MMDET_METAFILES = Metafiles("mmdetection", "*/metafile.yml", "box AP", "Object Detection")


@dataclass(frozen=True)
class LabelSpace:
    """How mmdet reads the boxes of one dataset format (a detector's label space)."""

    dataset_type: str  # mmdet's dataset class (it maps category names to label indices)
    image_prefix: str  # the images of a split, relative to the dataset root ({split})
    train_split: str
    classes: tuple[str, ...]  # the dataset class's, in label-index order


LABEL_SPACES = {
    "cityscapes": LabelSpace("CityscapesDataset", "leftImg8bit/{split}/", "train", tuple(DETECTION_CLASSES.values())),
    "coco": LabelSpace("CocoDataset", "{split}/", "train2017", tuple(COCO_CATEGORIES.values())),
}


def mmdet_config_dir() -> Path:
    import mmdet

    return Path(mmdet.__file__).parent / ".mim" / "configs"


@dataclass(frozen=True, kw_only=True)
class DetectorTrainingSettings(SectionSettings):
    """One demo detector: its ``detection.detectors.<name>`` entry with ``detection.training``
    (the train_demo_detector rule's ``params.settings``)."""

    SECTION = "detection.training (one demo detector)"

    base: str  # mmdet config, relative to the configs mmdet ships
    overrides: dict  # {dotted key: value} merged into ``base`` first, e.g. to narrow a head
    image_size: list  # [height, width] every image is resized to (keeping its aspect ratio)
    resize_ratio: list  # [low, high] of the training images' random resize around image_size
    iterations: int
    batch_size: int
    learning_rate: float  # AdamW
    seed: int
    label_space: str = "cityscapes"  # the format of its training dataset (LABEL_SPACES)


def detection_test_pipeline(image_size) -> list[dict]:
    """mmdet's Cityscapes test pipeline at ``image_size`` ([height, width]), boxes loaded."""
    height, width = image_size
    return [
        {"type": "LoadImageFromFile"},
        {"type": "Resize", "scale": (width, height), "keep_ratio": True},
        {"type": "LoadAnnotations", "with_bbox": True},
        {"type": "PackDetInputs", "meta_keys": ("img_id", "img_path", "ori_shape", "img_shape", "scale_factor")},
    ]


def _train_pipeline(image_size, resize_ratio) -> list[dict]:
    height, width = image_size
    return [
        {"type": "LoadImageFromFile"},
        {"type": "LoadAnnotations", "with_bbox": True},
        {"type": "RandomResize", "scale": (width, height), "ratio_range": tuple(resize_ratio), "keep_ratio": True},
        {"type": "RandomFlip", "prob": 0.5},
        {"type": "PackDetInputs"},
    ]


def detection_dataset(label_space: str, ann_file: str | Path, image_root: str | Path, split: str,
                      pipeline: list[dict], test_mode: bool) -> dict:
    """mmdet's dataset of ``label_space`` (CityscapesDataset, CocoDataset) on a COCO-format
    annotation file and a dataset root in that format's layout."""
    space = LABEL_SPACES[label_space]
    return {"type": space.dataset_type, "ann_file": str(Path(ann_file).resolve()),
            "data_root": str(Path(image_root).resolve()),
            "data_prefix": {"img": space.image_prefix.format(split=split)},
            "filter_cfg": {"filter_empty_gt": not test_mode, "min_size": 0}, "test_mode": test_mode,
            "pipeline": pipeline}


def _from_scratch(model: dict, classes: int) -> dict:
    """mmdet's model config for one CPU process, no downloads, ``classes`` classes, and a
    backbone that learns everything (the configs freeze stage 1 and BN of ImageNet weights)."""
    from segrel.models.segmentors import drop_pretrained, replace_syncbn

    replace_syncbn(model)
    drop_pretrained(model)
    model["data_preprocessor"].pop("batch_augments", None)  # LSJ's fixed-size pad: for 1024 px crops
    backbone = model["backbone"]
    backbone.update({key: value for key, value in (("frozen_stages", -1), ("norm_eval", False)) if key in backbone})
    _set_key(model, "num_classes", classes)
    return model


def _set_key(node, key: str, value) -> None:
    if isinstance(node, dict):
        for name, child in node.items():
            if name == key:
                node[name] = value
            else:
                _set_key(child, key, value)
    elif isinstance(node, list):
        for child in node:
            _set_key(child, key, value)


def demo_training_config(settings: DetectorTrainingSettings, *, ann_file: str | Path, data_root: str | Path,
                         work_dir: str):
    """An mmengine Config that trains mmdet's ``settings.base`` on the train split of a dataset of
    its label space."""
    from segrel.models.segmentors import set_iteration_training, shipped_config

    space = LABEL_SPACES[settings.label_space]
    cfg = shipped_config(mmdet_config_dir(), settings.base, settings.overrides, "mmdet")
    cfg.model = _from_scratch(cfg.model.to_dict(), len(space.classes))
    cfg.test_pipeline = detection_test_pipeline(settings.image_size)
    cfg.train_dataloader = {
        "batch_size": settings.batch_size, "num_workers": 0, "persistent_workers": False,
        "sampler": {"type": "InfiniteSampler", "shuffle": True},
        "dataset": detection_dataset(settings.label_space, ann_file, data_root, space.train_split,
                                     _train_pipeline(settings.image_size, settings.resize_ratio), test_mode=False),
    }
    cfg.pop("train_pipeline", None)
    cfg.auto_scale_lr = None
    set_iteration_training(cfg, iterations=settings.iterations, learning_rate=settings.learning_rate,
                           seed=settings.seed, work_dir=work_dir, scope="Det")
    return cfg


def train_demo_detector(config_out: str | Path, checkpoint_out: str | Path, settings: DetectorTrainingSettings, *,
                        ann_file: str | Path, data_root: str | Path) -> None:
    """Train with mmdet's runner; save the inference config and a zoo-like checkpoint."""
    from segrel.models.segmentors import run_training

    run_training(lambda work_dir: demo_training_config(settings, ann_file=ann_file, data_root=data_root,
                                                       work_dir=work_dir),
                 settings.iterations, config_out, checkpoint_out)


def load_detector(config, checkpoint: str | Path, device: str = "cpu"):
    """An mmdet detector in eval mode, loaded strictly (a checkpoint of another architecture is an
    error naming both, not a model with random weights)."""
    from segrel.models.segmentors import import_openmmlab, strictly_initialised

    import_openmmlab("mmdet")
    import mmdet.apis.inference
    from mmdet.apis import init_detector

    # a palette given: init_detector would otherwise build the config's test dataset to find one
    return strictly_initialised(mmdet.apis.inference, init_detector, config, checkpoint, palette="random",
                                device=device)


def resolve_detector(name: str) -> ZooModel:
    """The detector of mmdet's metafiles called ``name`` (config, checkpoint URL, reported COCO
    box AP); an unknown name lists the closest ones."""
    from segrel.models.zoo import resolve

    return resolve(name, mmdet_config_dir(), MMDET_METAFILES)
