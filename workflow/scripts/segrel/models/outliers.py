"""Outlier training with pasted objects (Loiseau et al. 2024, Table 2; RbA, Nayal et al. 2023,
reference code NazirNayal8/RbA).

A mask-classification segmenter (mmseg's Mask2Former) is fine-tuned on Cityscapes training
crops into which objects are pasted, with the RbA objective on top of its own mask-
classification losses:

- score = RbA's -sum over classes of tanh(s), s = softmax(class)[:, :-1] x sigmoid(mask) summed
  over the queries (:func:`segrel.evaluate.evaluation.rba_score`), at the masks' resolution,
  then resized bilinearly (align_corners) to the label's;
- loss = 0.5 (mean relu(s_in - inlier_threshold)^2 + mean relu(outlier_threshold - s_out)^2),
  the 0.5 and the outlier term only when the batch has outlier pixels (RbA's ``squared_hinge``),
  on the last decoder layer and each auxiliary one (RbA's deep supervision), void excluded;
- the outlier pixels are void for the class and mask losses (RbA leaves the OOD label out of the
  instance targets);
- the modules in ``frozen`` do not learn (Loiseau et al.: backbone and pixel decoder; RbA's own
  config also freezes the transformer decoder but for its class and mask MLPs) and their norm
  layers keep their statistics.

The objects come from an object bank (:func:`write_object_bank`: RGBA crops, the alpha the
object's mask) and are pasted as RbA pastes COCO objects (``mix_object``): with probability
``paste_probability`` per training image, one object at a uniformly random place where it fits,
at its own size, before the resize and crop; its pixels get the label :data:`OOD_LABEL`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from segrel.models.segmentors import TrainingSchedule

#: the label of pasted pixels in a training crop (RbA's OOD_LABEL)
OOD_LABEL = 254


@dataclass(frozen=True, kw_only=True)
class OutlierTrainingSettings(TrainingSchedule):
    """``outlier_training`` (the train_outlier_model rule's ``params.settings``)."""

    SECTION = "outlier_training"

    paste_probability: float  # per training image (RbA: 0.5; Loiseau et al.: 0.1-0.5)
    inlier_threshold: float  # RbA's INLIER_UPPER_THRESHOLD
    outlier_threshold: float  # RbA's OUTLIER_LOWER_THRESHOLD
    loss_weight: float  # RbA's OUTLIER_WEIGHT
    frozen: list  # module prefixes that do not learn, e.g. backbone, decode_head.pixel_decoder
    checkpoint_every: int  # iterations between resumable checkpoints (with the optimiser's state)


def rba_outlier_loss(class_scores: torch.Tensor, mask_logits: torch.Tensor, outliers: torch.Tensor, *,
                     inlier_threshold: float = 0.0, outlier_threshold: float = 5.0) -> torch.Tensor:
    """RbA's squared-hinge outlier loss of one decoder layer's (B, Q, C + 1) class logits and
    (B, Q, h, w) mask logits against (B, H, W) ``outliers`` (1 outlier, 0 inlier, else void).

    RbA's scores are non-positive (tanh of non-negative scores), so with its thresholds (0, 5) the
    inlier term is 0 and every outlier pixel is pushed towards 0, as its code does:

    >>> classes = torch.tensor([[[10.0, -10.0, -10.0]]])  # one query, sure of class 0 (C = 2)
    >>> masks = torch.tensor([[[[10.0, -10.0]]]])  # on the first of two pixels
    >>> s = -torch.tanh(torch.sigmoid(torch.tensor([10.0, -10.0])))  # the RbA score per pixel
    >>> found = rba_outlier_loss(classes, masks, torch.tensor([[[0, 1]]]))
    >>> torch.isclose(found, 0.5 * (5 - s[1]) ** 2).item()
    True
    >>> rba_outlier_loss(classes, masks, torch.tensor([[[0, 255]]])).item()  # no outlier: the inlier term
    0.0
    """
    from torch.nn.functional import interpolate, relu

    from segrel.evaluate.evaluation import rba_score

    scores = torch.einsum("bqc,bqhw->bchw", class_scores.softmax(dim=-1)[..., :-1], mask_logits.sigmoid())
    score = rba_score(scores.transpose(0, 1))  # (B, h, w)
    score = interpolate(score[:, None], size=outliers.shape[-2:], mode="bilinear", align_corners=True)[:, 0]
    loss = relu(score[outliers == 0] - inlier_threshold).pow(2).mean()
    outlier_scores = score[outliers == 1]
    if outlier_scores.numel():
        loss = 0.5 * (loss + relu(outlier_threshold - outlier_scores).pow(2).mean())
    return loss


# ---- object banks


def cut_object(image: np.ndarray, mask: np.ndarray) -> np.ndarray | None:
    """The RGBA crop of ``image`` (H, W, 3) to the bounding box of ``mask``, the mask as alpha
    (None for an empty mask).

    >>> mask = np.zeros((4, 5), bool); mask[1:3, 2] = True
    >>> cut_object(np.full((4, 5, 3), 7, np.uint8), mask)[..., 3].tolist()
    [[255], [255]]
    """
    rows, columns = np.nonzero(mask)
    if not len(rows):
        return None
    window = (slice(rows.min(), rows.max() + 1), slice(columns.min(), columns.max() + 1))
    alpha = mask[window].astype(np.uint8) * 255
    return np.dstack([image[window], alpha])


def write_object_bank(out, objects: Iterable[tuple[str, np.ndarray]]) -> pd.DataFrame:
    """``out/objects/<index>.png`` (RGBA) for each (origin, object) and ``out/objects.csv``
    (file, origin, height, width, pixels); an empty bank is an error (nothing to paste)."""
    from PIL import Image

    out = Path(out)
    (out / "objects").mkdir(parents=True, exist_ok=True)
    rows = []
    for index, (origin, rgba) in enumerate(objects):
        name = f"{index:06d}.png"
        Image.fromarray(rgba, "RGBA").save(out / "objects" / name)
        rows.append({"file": name, "origin": origin, "height": rgba.shape[0], "width": rgba.shape[1],
                     "pixels": int((rgba[..., 3] > 0).sum())})
    if not rows:
        raise ValueError(f"no object to paste for {out}: the source has no object pixels")
    table = pd.DataFrame(rows)
    table.to_csv(out / "objects.csv", index=False)
    return table


def anomaly_set_objects(fmt: str, root: str, split: str, subset) -> Iterable[tuple[str, np.ndarray]]:
    """The anomaly of each image of an anomaly-kind dataset (e.g. the inpainted objects), all of
    its anomaly pixels as one object (RbA cuts one object mask per source image)."""
    from segrel.core import formats
    from segrel.core import labels as lb

    for sample in formats.list_samples(fmt, root, split, subset):
        image = formats.read_image(sample.image)
        label = formats.to_labels(fmt, formats.read_ids(sample.label), sample.label).reshape(image.shape[:2])
        rgba = cut_object(image, label == lb.ANOMALY_YES)
        if rgba is not None:
            yield sample.name, rgba


def coco_objects(annotations: str, images: str, excluded: Iterable[str], min_pixels: int
                 ) -> Iterable[tuple[str, np.ndarray]]:
    """Every non-crowd instance of COCO whose category is not in ``excluded`` (the classes the
    segmenter knows) and that has at least ``min_pixels`` mask pixels, cut to its box."""
    from pycocotools.coco import COCO

    from segrel.core.formats import read_image

    coco = COCO(annotations)
    kept = [cat["id"] for cat in coco.loadCats(coco.getCatIds()) if cat["name"] not in set(excluded)]
    for image_id in sorted(coco.getImgIds()):
        info = coco.loadImgs(image_id)[0]
        annotations_of = coco.loadAnns(coco.getAnnIds(imgIds=image_id, catIds=kept, iscrowd=False))
        image = None
        for annotation in sorted(annotations_of, key=lambda a: a["id"]):
            if not annotation.get("segmentation"):
                raise ValueError(f"{annotations}: annotation {annotation['id']} has no instance mask (segmentation); "
                                 "source coco cuts objects from COCO's masks (instances_<split>.json)")
            mask = coco.annToMask(annotation).astype(bool)
            if mask.sum() < min_pixels:
                continue
            image = read_image(Path(images) / info["file_name"]) if image is None else image
            yield f"{info['file_name']}#{annotation['id']}", cut_object(image, mask)


def demo_objects(*, seed: int, height: int, width: int, images: int) -> Iterable[tuple[str, np.ndarray]]:
    """The demo's copy-paste objects: one procedural object per scene of its own seed."""
    from segrel.data.demo.writers import anomaly_scenes

    for name, image, mask in anomaly_scenes(seed=seed, height=height, width=width, images=images):
        rgba = cut_object(image, mask)
        if rgba is not None:
            yield name, rgba


def object_source(spec: dict) -> Iterable[tuple[str, np.ndarray]]:
    """The objects of one ``outlier_training.objects`` entry, as the rule's params give it
    (``layout`` of a dataset source, ``root`` of a coco one, the demo's seed and image size)."""
    if spec["source"] == "dataset":
        layout = spec["layout"]
        return anomaly_set_objects(layout["format"], layout["root"], layout["split"], layout["subset"])
    if spec["source"] == "coco":
        from segrel.core.formats import list_samples

        first = list_samples("coco", spec["root"], spec["split"], "*")[0]  # its label: the split's COCO file
        return coco_objects(first.label, first.image.parent, spec["excluded_categories"], spec["min_pixels"])
    return demo_objects(seed=spec["seed"], height=spec["height"], width=spec["width"], images=spec["images"])


def outlier_table(metrics: pd.DataFrame, base: str, variants: dict[str, str], objects: dict[str, dict]
                  ) -> pd.DataFrame:
    """Loiseau et al. Table 2 from a metrics table: per model (``base``, then each of
    ``variants``: {model: its objects entry}) and test set, the OOD AUROC / AUPR / FPR95 of each
    anomaly score (RbA first) on anomaly sets, the mIoU on segmentation sets."""
    from segrel.evaluate.metrics_table import SCORES

    rows = []
    names = {base: ("base", ""), **{model: (f"+{entry}", _objects_label(objects[entry]))
                                    for model, entry in variants.items()}}
    for model, (variant, source) in names.items():
        own = metrics[metrics.model == model]
        for test_set, group in own.groupby("test_set", sort=False):
            values = {(measure, score): value for measure, score, value in zip(group.measure, group.score, group.value)}
            common = {"variant": variant, "model": model, "objects": source, "test_set": test_set}
            if ("miou", "") in values:
                rows.append({**common, "score": "", "miou": values["miou", ""]})
            for score in ("rba", *[score for score in SCORES if score != "rba"]):
                if ("ood_auroc", score) in values:
                    rows.append({**common, "score": score, **{measure: values[f"ood_{measure}", score]
                                                              for measure in ("auroc", "aupr", "fpr95")}})
    return pd.DataFrame(rows, columns=["variant", "model", "objects", "test_set", "score", "auroc", "aupr", "fpr95",
                                       "miou"])


def _objects_label(spec: dict) -> str:
    """What an objects entry pastes, for the table.

    >>> _objects_label({"source": "dataset", "dataset": "synthetic_anomalies"})
    'synthetic_anomalies'
    >>> _objects_label({"source": "demo", "images": 40})
    'demo procedural objects (40)'
    """
    if spec["source"] == "demo":
        return f"demo procedural objects ({spec['images']})"
    return spec["dataset"] if spec["source"] == "dataset" else f"{spec['dataset']} {spec['split']} (copy-paste)"


# ---- mmseg / mmengine pieces, registered when a model trains (mmseg is imported only then)


def _registered(registry, name: str, define) -> str:
    """Registers ``define()`` in ``registry`` under ``name`` once; the name for a config."""
    if name not in registry.module_dict:
        registry.register_module(name=name, module=define())
    return name


def paste_transform() -> str:
    """mmseg transform ``SegrelPasteOutliers(objects, probability)``: RbA's ``mix_object``."""
    from mmseg.registry import TRANSFORMS

    def define():
        from mmcv.transforms import BaseTransform
        from PIL import Image

        class PasteOutliers(BaseTransform):
            def __init__(self, objects: str, probability: float):
                self.files = sorted((Path(objects) / "objects").glob("*.png"))
                if not self.files:
                    raise FileNotFoundError(f"no objects in {objects}/objects: rule outlier_objects writes them")
                self.probability, self.loaded = probability, {}

            def transform(self, results: dict) -> dict:
                if np.random.rand() >= self.probability:
                    return results
                index = np.random.randint(len(self.files))
                if index not in self.loaded:
                    self.loaded[index] = np.asarray(Image.open(self.files[index]).convert("RGBA"))
                paste(results["img"], results["gt_seg_map"], self.loaded[index])
                return results

        return PasteOutliers

    return _registered(TRANSFORMS, "SegrelPasteOutliers", define)


def paste(image_bgr: np.ndarray, label: np.ndarray, rgba: np.ndarray) -> None:
    """Paste one RGBA object into a BGR image (mmcv's channel order) and its label map, in place,
    at a uniformly random place where it fits (numpy's global generator, seeded by mmengine);
    an object larger than the image is skipped (RbA)."""
    height, width = rgba.shape[:2]
    if height > label.shape[0] or width > label.shape[1]:
        return
    top = np.random.randint(0, label.shape[0] - height + 1)
    left = np.random.randint(0, label.shape[1] - width + 1)
    window = (slice(top, top + height), slice(left, left + width))
    mask = rgba[..., 3] > 0
    image_bgr[window][mask] = rgba[..., 2::-1][mask]
    label[window][mask] = OOD_LABEL


def rba_head() -> str:
    """mmseg decode head ``SegrelRbAMask2FormerHead``: Mask2Former's, plus :func:`rba_outlier_loss`
    on every decoder layer's outputs (``outlier_loss``: its thresholds and weight); the pasted
    pixels are void for the mask-classification losses."""
    from mmseg.registry import MODELS

    def define():
        from mmseg.models.decode_heads import Mask2FormerHead

        class RbAMask2FormerHead(Mask2FormerHead):
            def __init__(self, *args, outlier_loss: dict, **kwargs):
                super().__init__(*args, **kwargs)
                self.outlier_thresholds = {key: outlier_loss[key] for key in ("inlier_threshold", "outlier_threshold")}
                self.outlier_weight = outlier_loss["weight"]

            def loss(self, x, batch_data_samples, train_cfg) -> dict:
                outliers = []
                for sample in batch_data_samples:
                    label = sample.gt_sem_seg.data
                    target = torch.where(label == self.ignore_index, 255, (label == OOD_LABEL).long())
                    outliers.append(target[0])
                    sample.gt_sem_seg.data = label.masked_fill(label == OOD_LABEL, self.ignore_index)
                batch_gt_instances, batch_img_metas = self._seg_data_to_instance_data(batch_data_samples)
                all_cls_scores, all_mask_preds = self(x, batch_data_samples)
                losses = self.loss_by_feat(all_cls_scores, all_mask_preds, batch_gt_instances, batch_img_metas)
                outliers, layers = torch.stack(outliers), len(all_cls_scores)
                for layer, (classes, masks) in enumerate(zip(all_cls_scores, all_mask_preds)):
                    key = "loss_outlier" if layer == layers - 1 else f"d{layer}.loss_outlier"
                    loss = rba_outlier_loss(classes, masks, outliers, **self.outlier_thresholds)
                    losses[key] = self.outlier_weight * loss
                return losses

        return RbAMask2FormerHead

    return _registered(MODELS, "SegrelRbAMask2FormerHead", define)


def freeze_hook() -> str:
    """mmengine hook ``SegrelFreezeHook(frozen)``: the parameters under the ``frozen`` module
    prefixes stop learning before training starts, and their modules stay in eval mode (norm
    statistics kept) at every iteration; a prefix that names no parameter is an error."""
    from mmengine.registry import HOOKS

    def define():
        from mmengine.hooks import Hook

        from segrel.models.segmentors import _unwrapped

        class FreezeHook(Hook):
            priority = "HIGH"

            def __init__(self, frozen):
                self.frozen, self.modules = list(frozen), []

            def before_train(self, runner):
                model = _unwrapped(runner)
                names = [name for name, _ in model.named_parameters()]
                unknown = [p for p in self.frozen if not any(n.startswith(p + ".") for n in names)]
                if unknown:
                    raise ValueError(f"outlier_training.frozen: {', '.join(unknown)} name no module of the model "
                                     f"(its top-level modules: {', '.join(sorted({n.split('.')[0] for n in names}))})")
                self.modules = [module for name, module in model.named_modules()
                                if any(name == prefix or name.startswith(prefix + ".") for prefix in self.frozen)]
                for module in self.modules:
                    module.requires_grad_(False)

            def before_train_iter(self, runner, batch_idx, data_batch=None):
                for module in self.modules:  # the loop's model.train() turned them back
                    module.eval()

        return FreezeHook

    return _registered(HOOKS, "SegrelFreezeHook", define)


def outlier_training_config(model_config: str | Path, checkpoint: str | Path, settings: OutlierTrainingSettings, *,
                            data_root: str, objects: str, work_dir: str):
    """The model's fine-tuning config (:func:`segrel.models.segmentors.finetuning_config`) with
    the RbA head, the pasting before the augmentations and the frozen modules."""
    from segrel.models.segmentors import finetuning_config

    cfg = finetuning_config(model_config, checkpoint, settings, data_root=data_root, work_dir=work_dir)
    head = cfg.model.decode_head
    if str(head.type).rpartition(".")[2] != "Mask2FormerHead":
        raise ValueError(f"outlier_training.model: RbA fine-tunes a Mask2Former (decode head Mask2FormerHead); "
                         f"{model_config} has {head.type}")
    head.type = rba_head()
    head.outlier_loss = {"inlier_threshold": settings.inlier_threshold,
                         "outlier_threshold": settings.outlier_threshold, "weight": settings.loss_weight}
    pipeline = cfg.train_dataloader.dataset.pipeline
    loaded = next(i for i, step in enumerate(pipeline) if step["type"] == "LoadAnnotations")
    pipeline.insert(loaded + 1, {"type": paste_transform(), "objects": str(objects),
                                 "probability": settings.paste_probability})
    cfg.custom_hooks.append({"type": freeze_hook(), "frozen": list(settings.frozen)})
    return cfg


def _plain_mask2former(cfg) -> None:
    """The trained model's inference config: mmseg's own head (the RbA head adds only a loss)."""
    cfg.model.decode_head.type = "Mask2FormerHead"
    del cfg.model.decode_head["outlier_loss"]


def train_outlier_model(model_config: str | Path, checkpoint: str | Path, settings: OutlierTrainingSettings, *,
                        data_root: str, objects: str, config_out: str | Path, checkpoint_out: str | Path) -> None:
    """Fine-tune a Mask2Former with pasted ``objects`` (an object bank) and the RbA loss; save it
    as the models stage saves a model, resumable every ``settings.checkpoint_every`` iterations."""
    from segrel.models.segmentors import run_training

    run_training(lambda work_dir: outlier_training_config(model_config, checkpoint, settings, data_root=data_root,
                                                          objects=objects, work_dir=work_dir),
                 settings.iterations, config_out, checkpoint_out, resume_every=settings.checkpoint_every,
                 inference_config=_plain_mask2former)
