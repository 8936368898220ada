"""Outlier training (Loiseau et al. Table 2, RbA): the loss against a hand-built reference of RbA's
formula, the pasting, the object banks, RbA as an anomaly score, and a fine-tuning run that freezes,
resumes and saves a plain Mask2Former."""

from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from scipy.ndimage import map_coordinates

from segrel.models.outliers import OOD_LABEL, cut_object, paste, rba_outlier_loss

REPO = Path(__file__).resolve().parents[1]
DEMO = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
MASK2FORMER = DEMO["outlier_training"]["models"]["mask2former_r18"]


def reference_loss(classes, masks, outliers, inlier_threshold, outlier_threshold):
    """RbA's squared-hinge loss written out in numpy: per pixel, -sum_c tanh(sum_q softmax(class_q)_c
    sigmoid(mask_q)), resized with corners aligned (scipy's linear interpolation at the aligned
    coordinates), then the two hinge terms."""
    classes, masks, outliers = classes.double().numpy(), masks.double().numpy(), outliers.numpy()
    probabilities = np.exp(classes) / np.exp(classes).sum(-1, keepdims=True)
    total_inlier, total_outlier = [], []
    for b in range(classes.shape[0]):
        scores = np.zeros((classes.shape[2] - 1, *masks.shape[2:]))
        for q in range(classes.shape[1]):
            scores += probabilities[b, q, :-1, None, None] * (1 / (1 + np.exp(-masks[b, q])))[None]
        score = -np.tanh(scores).sum(0)
        rows = np.linspace(0, score.shape[0] - 1, outliers.shape[1])
        columns = np.linspace(0, score.shape[1] - 1, outliers.shape[2])
        grid = np.meshgrid(rows, columns, indexing="ij")
        resized = map_coordinates(score, grid, order=1)
        total_inlier += list(np.maximum(resized[outliers[b] == 0] - inlier_threshold, 0) ** 2)
        total_outlier += list(np.maximum(outlier_threshold - resized[outliers[b] == 1], 0) ** 2)
    loss = np.mean(total_inlier)
    return 0.5 * (loss + np.mean(total_outlier)) if total_outlier else loss


@pytest.mark.parametrize("thresholds", [(0.0, 5.0), (-8.0, -2.0)])
def test_the_outlier_loss_is_rbas_squared_hinge(thresholds):
    generator = torch.Generator().manual_seed(0)
    classes = torch.randn(2, 5, 4, generator=generator) * 3  # 5 queries, 3 classes + no-object
    masks = torch.randn(2, 5, 4, 6, generator=generator) * 3
    outliers = torch.randint(0, 2, (2, 8, 11), generator=generator)
    outliers[0, :2] = 255  # void
    found = rba_outlier_loss(classes, masks, outliers, inlier_threshold=thresholds[0],
                             outlier_threshold=thresholds[1])
    assert found.item() == pytest.approx(reference_loss(classes, masks, outliers, *thresholds), rel=1e-5)
    # no outlier pixel: the inlier term alone, without RbA's 0.5
    inliers = torch.zeros_like(outliers)
    alone = rba_outlier_loss(classes, masks, inliers, inlier_threshold=thresholds[0], outlier_threshold=thresholds[1])
    assert alone.item() == pytest.approx(reference_loss(classes, masks, inliers, *thresholds), rel=1e-5)


def test_rba_is_scored_on_the_models_own_outputs():
    """A Mask2Former's scores are evaluated as logs (as_logits): RbA reads them back; a per-pixel
    model's RbA is the same formula on its logits."""
    from segrel.evaluate.evaluation import as_logits, pixel_scores

    scores = torch.tensor([[0.9, 0.0, 2.5], [0.05, 0.0, 0.5]])  # (C = 2, 3 pixels)
    rba = pixel_scores(as_logits(scores, "probabilities"), "probabilities")["rba"]
    assert torch.allclose(rba, torch.tensor([-np.tanh(0.9) - np.tanh(0.05), 0.0, -np.tanh(2.5) - np.tanh(0.5)],
                                            dtype=torch.float32), atol=1e-6)
    logits = torch.tensor([[3.0, -1.0], [-2.0, 0.5]])
    expected = torch.tensor([-np.tanh(3.0) - np.tanh(-2.0), -np.tanh(-1.0) - np.tanh(0.5)], dtype=torch.float32)
    assert torch.allclose(pixel_scores(logits)["rba"], expected, atol=1e-6)


def test_an_object_is_pasted_where_its_alpha_is_at_a_uniform_place():
    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[..., :3] = [10, 20, 30]  # RGB
    rgba[0, :, 3] = 255
    rgba[1, 1, 3] = 255  # a T: 4 object pixels
    places = set()
    for seed in range(300):
        np.random.seed(seed)
        image, label = np.zeros((4, 5, 3), np.uint8), np.zeros((4, 5), np.uint8)
        paste(image, label, rgba)
        rows, columns = np.nonzero(label == OOD_LABEL)
        assert len(rows) == 4 and (label[label != OOD_LABEL] == 0).all()
        top, left = rows.min(), columns.min()
        assert sorted(zip(rows - top, columns - left)) == [(0, 0), (0, 1), (0, 2), (1, 1)]
        assert (image[label == OOD_LABEL] == [30, 20, 10]).all() and (image[label != OOD_LABEL] == 0).all()  # BGR
        places.add((top, left))
    assert places == {(top, left) for top in range(3) for left in range(3)}  # every place it fits
    image, label = np.zeros((1, 5, 3), np.uint8), np.zeros((1, 5), np.uint8)
    paste(image, label, rgba)  # taller than the image: skipped
    assert not label.any() and not image.any()


def test_coco_objects_are_the_instances_of_categories_the_segmenter_does_not_know(tmp_path):
    import json

    from PIL import Image
    from pycocotools.coco import COCO

    from segrel.models.outliers import coco_objects

    image = np.random.default_rng(0).integers(0, 255, (20, 30, 3), dtype=np.uint8)
    Image.fromarray(image).save(tmp_path / "a.png")
    square = [[4, 2, 14, 2, 14, 12, 4, 12]]  # a 10 x 10 polygon
    annotations = {
        "images": [{"id": 1, "file_name": "a.png", "height": 20, "width": 30}],
        "categories": [{"id": 1, "name": "car"}, {"id": 2, "name": "giraffe"}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 2, "segmentation": square, "area": 100, "bbox": [4, 2, 10, 10],
             "iscrowd": 0},
            {"id": 2, "image_id": 1, "category_id": 1, "segmentation": square, "area": 100, "bbox": [4, 2, 10, 10],
             "iscrowd": 0},  # a car: the segmenter knows it
            {"id": 3, "image_id": 1, "category_id": 2, "segmentation": [[20, 2, 22, 2, 22, 4, 20, 4]], "area": 4,
             "bbox": [20, 2, 2, 2], "iscrowd": 0},  # too small
        ],
    }
    (tmp_path / "instances.json").write_text(json.dumps(annotations))
    objects = list(coco_objects(str(tmp_path / "instances.json"), str(tmp_path), ["car"], min_pixels=20))
    assert [name for name, _ in objects] == ["a.png#1"]
    mask = COCO(str(tmp_path / "instances.json")).annToMask(annotations["annotations"][0]).astype(bool)
    rows, columns = np.nonzero(mask)
    window = (slice(rows.min(), rows.max() + 1), slice(columns.min(), columns.max() + 1))
    rgba = objects[0][1]
    assert (rgba[..., 3] > 0).tolist() == mask[window].tolist()
    assert (rgba[..., :3] == image[window]).all()
    assert cut_object(image, np.zeros((20, 30), bool)) is None
    del annotations["annotations"][0]["segmentation"]  # boxes only (as the demo's COCO): refused
    (tmp_path / "instances.json").write_text(json.dumps(annotations))
    with pytest.raises(ValueError, match="annotation 1 has no instance mask"):
        list(coco_objects(str(tmp_path / "instances.json"), str(tmp_path), ["car"], min_pixels=20))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny Mask2Former (the demo's, one training step) and its fine-tuning with demo objects:
    first killed after 3 of 4 iterations, then resumed."""
    from mmengine.hooks import Hook
    from mmengine.registry import HOOKS

    from segrel.data.demo.writers import write_cityscapes
    from segrel.models import outliers
    from segrel.models.outliers import OutlierTrainingSettings, train_outlier_model, write_object_bank
    from segrel.models.segmentors import DemoTrainingSettings, train_demo_model

    root = tmp_path_factory.mktemp("outliers")
    write_cityscapes(root / "cityscapes", seed=3, height=64, width=128, cities={"train": {"aachen": 4}})
    base = DemoTrainingSettings(base=MASK2FORMER["base"], overrides=MASK2FORMER["overrides"], image_size=[64, 128],
                                crop_size=[64, 128], iterations=1, batch_size=2, learning_rate=1e-3, seed=0,
                                photometric_distortion=False, resize_ratio=[1.0, 1.0], snapshots=[])
    train_demo_model(root / "base.py", root / "base.pth", base, data_root=str(root / "cityscapes"))
    write_object_bank(root / "objects", outliers.demo_objects(seed=0, height=64, width=128, images=6))
    settings = OutlierTrainingSettings(image_size=[64, 128], crop_size=[64, 128], iterations=4, batch_size=2,
                                       learning_rate=1e-3, seed=0, photometric_distortion=False,
                                       resize_ratio=[1.0, 1.0], paste_probability=1.0, inlier_threshold=0.0,
                                       outlier_threshold=5.0, loss_weight=1.0,
                                       frozen=["backbone", "decode_head.pixel_decoder"], checkpoint_every=2)

    class Killed(RuntimeError):
        pass

    class KillAtThree(Hook):
        def before_train_iter(self, runner, batch_idx, data_batch=None):
            if runner.iter == 2:
                raise Killed("a SLURM time limit")

    started = []

    class StartedAt(Hook):
        priority = "LOWEST"

        def before_train(self, runner):
            started.append(runner.iter)

    HOOKS.register_module(name="TestKillAtThree", module=KillAtThree, force=True)
    HOOKS.register_module(name="TestStartedAt", module=StartedAt, force=True)
    configure = outliers.outlier_training_config

    def with_hooks(*hooks):
        def make(*args, **kwargs):
            cfg = configure(*args, **kwargs)
            cfg.custom_hooks += [{"type": hook} for hook in hooks]
            return cfg

        return make

    out = root / "tuned"
    run = dict(data_root=str(root / "cityscapes"), objects=str(root / "objects"), config_out=out / "m.py",
               checkpoint_out=out / "m.pth")
    try:
        outliers.outlier_training_config = with_hooks("TestKillAtThree", "TestStartedAt")
        with pytest.raises(Killed):
            train_outlier_model(root / "base.py", root / "base.pth", settings, **run)
        left = sorted(p.name for p in (out / ".m.pth.resume" / "weights").iterdir())
        outliers.outlier_training_config = with_hooks("TestStartedAt")
        train_outlier_model(root / "base.py", root / "base.pth", settings, **run)
    finally:
        outliers.outlier_training_config = configure
    return root, out, left, started


def test_a_killed_run_resumes_from_its_checkpoint_and_cleans_up(trained):
    root, out, left, started = trained
    assert started == [0, 2]  # the second run started where the first one's checkpoint was
    assert "resume_2.pth" in left and "last_checkpoint" in left
    assert not (out / ".m.pth.resume").exists()
    assert torch.load(out / "m.pth", weights_only=False)["meta"]["iterations"] == 4


def test_only_the_unfrozen_modules_learn_and_the_saved_model_is_a_plain_mask2former(trained):
    from segrel.models.segmentors import load_model, output_kind

    root, out, *_ = trained
    before = torch.load(root / "base.pth", weights_only=False)["state_dict"]
    after = torch.load(out / "m.pth", weights_only=False)["state_dict"]
    frozen = [key for key in before if key.startswith(("backbone.", "decode_head.pixel_decoder."))]
    assert frozen and all(torch.equal(before[key], after[key]) for key in frozen)  # BN statistics too
    learnt = [key for key in before if key.startswith(("decode_head.cls_embed.", "decode_head.mask_embed."))]
    assert learnt and all(not torch.equal(before[key], after[key]) for key in learnt)
    model = load_model(out / "m.py", out / "m.pth")
    assert type(model.decode_head).__name__ == "Mask2FormerHead" and output_kind(model.cfg) == "probabilities"


def test_the_demo_config_trains_its_mask2former_with_three_sources():
    from segrel.config import validate_config

    config = validate_config(yaml.safe_load((REPO / "config" / "config.yaml").read_text()),
                             REPO / "workflow" / "schemas" / "config.schema.yaml")
    outliers = config["outlier_training"]
    assert outliers["model"] in outliers["models"] and outliers["model"] not in config["models"]
    assert list(outliers["objects"]) == ["baseline", "all", "curated"]
    assert config["generation"]["anomalies"]["curated"][:2] == ["00003_sofa", "00007_sofa"]  # config/curated.txt


def test_outlier_training_config_errors_name_the_key():
    from segrel.config import ConfigError, validate_config

    def problems(change):
        config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
        change(config["outlier_training"])
        with pytest.raises(ConfigError) as error:
            validate_config(config, REPO / "workflow" / "schemas" / "config.schema.yaml")
        return str(error.value)

    assert "'outlier_training.model': no model named 'nope'" in problems(lambda o: o.update(model="nope"))
    message = problems(lambda o: o["objects"].update(bad={"source": "dataset", "dataset": "cityscapes"}))
    assert "'outlier_training.objects.bad.dataset': 'cityscapes' is not an anomaly dataset" in message
    message = problems(lambda o: o["objects"].update(bad={"source": "coco", "dataset": "smiyc", "split": "x"}))
    assert "'smiyc' has format smiyc; source coco cuts objects from a coco-format dataset" in message
    assert "'outlier_training.test_sets': unknown test sets nope" in problems(lambda o: o.update(test_sets=["nope"]))
    message = problems(lambda o: o["models"]["mask2former_r18"].update(base="mask2former/nope.py"))
    assert "config key 'outlier_training.models.mask2former_r18.base': mmseg ships no config" in message


def test_table_2_has_the_base_then_each_variant_with_rba_first():
    import pandas as pd

    from segrel.models.outliers import outlier_table

    rows = [("m", "road", "miou", "", 0.5)]
    for model, offset in (("m", 0.0), ("m-rba-coco", 0.25)):
        for score in ("msp", "rba"):
            rows += [(model, "anomalies", f"ood_{measure}", score, value + offset)
                     for measure, value in (("auroc", 0.5), ("aupr", 0.1), ("fpr95", 0.7))]
    metrics = pd.DataFrame(rows, columns=["model", "test_set", "measure", "score", "value"])
    table = outlier_table(metrics, "m", {"m-rba-coco": "coco"},
                          {"coco": {"source": "coco", "dataset": "coco", "split": "train2017"}})
    assert table[["variant", "test_set", "score"]].values.tolist() == [
        ["base", "road", ""], ["base", "anomalies", "rba"], ["base", "anomalies", "msp"],
        ["+coco", "anomalies", "rba"], ["+coco", "anomalies", "msp"]]
    assert table.iloc[3][["auroc", "aupr", "fpr95"]].tolist() == [0.75, 0.35, 0.95]
    assert table.iloc[0].miou == 0.5 and table.iloc[3].objects == "coco train2017 (copy-paste)"
