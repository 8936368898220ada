"""The detect stage (DetecBench): COCO boxes as mmdet's converter writes them, mAP against
pycocotools on hand-built cases, exact shard merging, attacks through the detector's own
normalisation, detector resolution from mmdet's metafiles, and its config checks."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from segrel.detect.annotations import DETECTION_CLASSES, coco_annotations, write_coco_annotations
from segrel.detect.evaluation import METRICS, Detections, DetectionTestSet, coco_metrics, detect_shard, load_merged

CITIES = {"train": {"aachen": 4}, "val": {"frankfurt": 4, "lindau": 2}}


@pytest.fixture(scope="module")
def cityscapes(tmp_path_factory):
    """A demo Cityscapes (64x128) and its COCO boxes, as rule detection_annotations writes them."""
    from segrel.data.demo.writers import write_cityscapes

    root = tmp_path_factory.mktemp("detect") / "cityscapes"
    write_cityscapes(root, seed=3, height=64, width=128, cities=CITIES)
    for split in ("train", "val"):
        write_coco_annotations(root, split, root.parent / f"instances_{split}.json")
    return root


def _mmdet_converter():
    """mmdet's own tools/dataset_converters/cityscapes.py (shipped in mmdet/.mim)."""
    from segrel.detect.detectors import mmdet_config_dir

    path = mmdet_config_dir().parent / "tools" / "dataset_converters" / "cityscapes.py"
    spec = importlib.util.spec_from_file_location("mmdet_cityscapes_converter", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_boxes_are_what_mmdets_converter_writes(cityscapes, tmp_path):
    converter = _mmdet_converter()
    for split in ("train", "val"):
        files = converter.collect_files(str(cityscapes / "leftImg8bit" / split), str(cityscapes / "gtFine" / split))
        reference = converter.cvt_annotations(converter.collect_annotations(files), str(tmp_path / "ref.json"))
        ours = coco_annotations(cityscapes, split)
        assert ours["categories"] == reference["categories"]
        assert len(ours["annotations"]) > 10

        def by_file(coco):
            names = {image["id"]: image["file_name"] for image in coco["images"]}
            images = {image["file_name"]: {k: v for k, v in image.items() if k != "id"} for image in coco["images"]}
            boxes = {}
            for annotation in coco.get("annotations", []):
                kept = {k: v for k, v in annotation.items() if k not in ("id", "image_id")}
                boxes.setdefault(names[annotation["image_id"]], []).append(kept)
            return images, boxes

        # the converter numbers images in glob order (unsorted): compare by file name
        assert by_file(json.loads(json.dumps(ours))) == by_file(json.loads(json.dumps(reference)))


def _coco_file(path: Path, boxes_per_image: dict[int, list[list[float]]]) -> Path:
    """A COCO file of 100x100 images with car boxes (x, y, w, h)."""
    images = [{"id": image_id, "file_name": f"c/img{image_id}_leftImg8bit.png", "height": 100, "width": 100}
              for image_id in boxes_per_image]
    annotations = [{"id": index + 1, "image_id": image_id, "category_id": 26, "bbox": box, "area": box[2] * box[3],
                    "iscrowd": 0}
                   for index, (image_id, box) in enumerate((i, b) for i, bs in boxes_per_image.items() for b in bs)]
    categories = [{"id": key, "name": name} for key, name in DETECTION_CLASSES.items()]
    path.write_text(json.dumps({"images": images, "annotations": annotations, "categories": categories}))
    return path


def _detections(per_image: dict[int, list[tuple[list[float], float]]]) -> Detections:
    """Car detections ((x1, y1, x2, y2), score) per image id."""
    detections = Detections()
    for image_id, found in per_image.items():
        detections.add(f"img{image_id}", image_id, [box for box, _ in found], [score for _, score in found],
                       [2] * len(found))  # label 2 = car
    return detections


def _pycocotools(annotations: Path, detections: Detections) -> np.ndarray:
    """COCOeval's stats, straight from pycocotools (the independent reference)."""
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    with contextlib.redirect_stdout(io.StringIO()):
        truth = COCO(str(annotations))
        results = [{"image_id": image_id, "category_id": 26, "score": float(score),
                    "bbox": [float(x1), float(y1), float(x2 - x1), float(y2 - y1)]}
                   for image_id, boxes, scores in zip(detections.image_ids, detections.boxes, detections.scores)
                   for (x1, y1, x2, y2), score in zip(boxes, scores)]
        evaluation = COCOeval(truth, truth.loadRes(results), "bbox")
        evaluation.params.imgIds = sorted(detections.image_ids)
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    return evaluation.stats


# 40x40 boxes: COCO's "medium" (32^2 < area < 96^2)
TRUTH = {0: [[10, 10, 40, 40]], 1: [[50, 50, 40, 40]]}
PERFECT = {0: [([10, 10, 50, 50], 0.9)], 1: [([50, 50, 90, 90], 0.8)]}


@pytest.mark.parametrize("case, found, expected_map", [
    ("perfect", PERFECT, 1.0),
    # image 1's car missed: precision 1 up to recall 0.5 -> 51 of COCO's 101 recall points
    ("one miss", {0: PERFECT[0], 1: []}, 51 / 101),
    # a duplicate scored below both true positives: after recall 1, so no loss
    ("duplicate below", {0: [*PERFECT[0], ([11, 11, 51, 51], 0.5)], 1: PERFECT[1]}, 1.0),
    # a duplicate scored between them: precision 2/3 at recall 1
    ("duplicate between", {0: [*PERFECT[0], ([11, 11, 51, 51], 0.85)], 1: PERFECT[1]}, None),
])
def test_map_is_pycocotools_on_hand_built_cases(tmp_path, case, found, expected_map):
    annotations = _coco_file(tmp_path / "truth.json", TRUTH)
    detections = _detections(found)
    ours = coco_metrics(detections, annotations)
    reference = _pycocotools(annotations, detections)
    assert [ours[name] for name in METRICS] == pytest.approx(np.round(reference[:6], 3), abs=1e-9), case
    if expected_map is not None:
        assert ours["bbox_mAP"] == pytest.approx(expected_map, abs=1e-3)
    else:  # 101-point interpolated precision: 1 up to recall 0.5, then 2/3
        assert ours["bbox_mAP"] == pytest.approx(round((51 * 1 + 50 * 2 / 3) / 101, 3), abs=1e-9)


def test_nothing_detected_is_every_box_missed(tmp_path):
    """pycocotools' loadRes cannot take an empty result list: by hand, 0 where there are boxes
    (all 40x40: medium), -1 for the size ranges without any."""
    values = coco_metrics(_detections({0: [], 1: []}), _coco_file(tmp_path / "truth.json", TRUTH))
    assert [values[name] for name in METRICS] == [0.0, 0.0, 0.0, -1.0, 0.0, -1.0]


def test_annotation_ids_start_at_one(cityscapes):
    """pycocotools records a match as the annotation's id: an annotation with id 0 (mmdet's
    converter numbers from 0) is never a true positive."""
    coco = json.loads((cityscapes.parent / "instances_val.json").read_text())
    assert [annotation["id"] for annotation in coco["annotations"]] == list(range(1, len(coco["annotations"]) + 1))


def test_only_the_evaluated_images_count(tmp_path):
    """CocoMetric alone would count every image of the file: an unevaluated image's car is no miss."""
    annotations = _coco_file(tmp_path / "truth.json", {**TRUTH, 2: [[0, 0, 50, 50]]})
    assert coco_metrics(_detections(PERFECT), annotations)["bbox_mAP"] == pytest.approx(1.0)


def test_shards_merge_into_the_numbers_of_one_pass(tmp_path):
    annotations = _coco_file(tmp_path / "truth.json", {index: [[5 * index, 10, 40, 30]] for index in range(6)})
    rng = np.random.default_rng(0)
    found = {index: [([5 * index + rng.normal(0, 3), 10 + rng.normal(0, 3), 5 * index + 40, 40], rng.random()),
                     ([rng.uniform(0, 50), rng.uniform(0, 50), 90, 90], rng.random())] for index in range(6)}
    whole = _detections(found)
    paths = []
    for shard in range(3):  # every third image, as segrel.core.sharding cuts
        part = _detections({index: boxes for index, boxes in found.items() if index % 3 == shard})
        paths.append(tmp_path / f"shard-{shard}.npz")
        part.save(paths[-1])
    merged = load_merged(paths)
    assert sorted(merged.image_names) == sorted(whole.image_names)
    assert coco_metrics(merged, annotations) == coco_metrics(whole, annotations)
    assert [coco_metrics(merged, annotations)[name] for name in METRICS] == \
        pytest.approx(np.round(_pycocotools(annotations, whole)[:6], 3), abs=1e-9)
    with pytest.raises(ValueError, match="two shards"):
        merged.merge(Detections.load(paths[0]))
    attacked = Detections(attack='{"name": "pgd"}')
    with pytest.raises(ValueError, match="different attacks"):
        merged.merge(attacked)


def _untrained_retinanet(folder: Path, label_space: str, ann_file: Path, data_root: Path):
    """An untrained small RetinaNet of ``label_space``'s classes as the demo builds one (its
    training config on ``ann_file``), saved and loaded as the stage does; (model, config)."""
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules
    from mmengine.config import Config

    from segrel.detect.detectors import (
        LABEL_SPACES,
        DetectorTrainingSettings,
        demo_training_config,
        load_detector,
    )

    register_all_modules()
    settings = DetectorTrainingSettings(
        base="retinanet/retinanet_r18_fpn_1x_coco.py",
        overrides={"model.neck.out_channels": 32, "model.bbox_head.in_channels": 32,
                   "model.bbox_head.feat_channels": 32, "model.bbox_head.stacked_convs": 1,
                   "model.test_cfg.score_thr": 0.0},  # untrained: every score is near the prior, keep them
        image_size=[64, 128], resize_ratio=[1.0, 1.0], iterations=1, batch_size=2, learning_rate=1e-3, seed=0,
        label_space=label_space)
    cfg = demo_training_config(settings, ann_file=ann_file, data_root=data_root, work_dir=str(folder))
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.init_weights()
    torch.save({"meta": {"dataset_meta": {"classes": LABEL_SPACES[label_space].classes}},
                "state_dict": model.state_dict()}, folder / "d.pth")
    Config(cfg.to_dict()).dump(str(folder / "d.py"))
    return load_detector(folder / "d.py", folder / "d.pth"), cfg


@pytest.fixture(scope="module")
def tiny_detector(tmp_path_factory, cityscapes):
    """An untrained small RetinaNet of the 8 Cityscapes classes."""
    return _untrained_retinanet(tmp_path_factory.mktemp("detector"), "cityscapes",
                                cityscapes.parent / "instances_train.json", cityscapes)[0]


def _test_set(cityscapes, **kwargs):
    return DetectionTestSet(root=str(cityscapes), split="val", subset="frankfurt",
                            annotations=str(cityscapes.parent / "instances_val.json"), **kwargs)


def test_shard_detections_equal_one_pass(tiny_detector, cityscapes):
    whole = detect_shard(tiny_detector, _test_set(cityscapes), 0, 1, batch_size=4)
    parts = [detect_shard(tiny_detector, _test_set(cityscapes), shard, 2, batch_size=1) for shard in range(2)]
    merged = parts[0].merge(parts[1])
    assert sorted(merged.image_names) == sorted(whole.image_names) and len(whole.image_names) == 4
    assert all(map(len, whole.scores))
    for name in whole.image_names:
        a, b = whole.subset([name]), merged.subset([name])
        np.testing.assert_allclose(a.boxes[0], b.boxes[0], atol=1e-3)
        np.testing.assert_allclose(a.scores[0], b.scores[0], atol=1e-5)
    annotations = _test_set(cityscapes).annotations
    assert coco_metrics(merged, annotations) == pytest.approx(coco_metrics(whole, annotations), abs=1e-3)


def test_annotations_that_do_not_match_the_images_are_one_error(tiny_detector, cityscapes, tmp_path):
    other = tmp_path / "other"
    from segrel.data.demo.writers import write_cityscapes

    write_cityscapes(other, seed=3, height=64, width=128, cities={"val": {"munster": 2}})
    with pytest.raises(ValueError, match="does not match the images of .*have no entry"):
        detect_shard(tiny_detector, DetectionTestSet(root=str(other), split="val", subset="*",
                                                     annotations=_test_set(cityscapes).annotations), 0, 1,
                     batch_size=2)
    with pytest.raises(ValueError, match="no image"):
        detect_shard(tiny_detector, _test_set(cityscapes), 5, 6, batch_size=2)
    with pytest.raises(ValueError, match="no image was evaluated"):
        coco_metrics(Detections(), _test_set(cityscapes).annotations)


def _batch(model, cityscapes, count=2):
    from segrel.core import formats
    from segrel.detect.evaluation import TestSetLoader

    test_set = _test_set(cityscapes)
    samples = formats.list_samples("cityscapes", cityscapes, "val", "frankfurt")[:count]
    return TestSetLoader(model, test_set).batch(samples), samples


def test_the_gradient_is_taken_through_the_detectors_normalisation(tiny_detector, cityscapes):
    """DetectorLoss differentiates mmdet's preprocessor: the same gradient as the loss of the input
    normalised by hand; DetecBench's quirk (raw_input_loss) feeds the un-normalised one."""
    import torch.nn.functional as F

    from segrel.detect.attacks import DetectorLoss

    model = tiny_detector
    data, _ = _batch(model, cityscapes)
    rgb = torch.stack([inputs.flip(0) for inputs in data["inputs"]]).float()
    # mmdet's RetinaNet config's normalisation, written out
    mean = torch.tensor([123.675, 116.28, 103.53]).view(3, 1, 1)
    std = torch.tensor([58.395, 57.12, 57.375]).view(3, 1, 1)
    prepared = model.data_preprocessor(data, False)  # the samples' batch input and pad shapes, for the loss

    def by_hand(pixels, normalise):
        inputs = (pixels - mean) / std if normalise else pixels
        height, width = inputs.shape[-2:]
        padded = F.pad(inputs, (0, -width % 32, 0, -height % 32))
        torch.manual_seed(0)
        loss, _ = model.parse_losses(model.loss(padded, prepared["data_samples"]))
        return torch.autograd.grad(loss, pixels)[0]

    def ours(pixels, raw):
        torch.manual_seed(0)
        loss, _ = DetectorLoss(model, data["data_samples"], raw)(pixels, 0)
        return torch.autograd.grad(loss, pixels)[0]

    pixels = rgb.clone().requires_grad_(True)
    expected = by_hand(pixels, normalise=True)
    np.testing.assert_allclose(ours(pixels, False).numpy(), expected.numpy(), rtol=1e-4, atol=1e-7)
    assert not torch.allclose(ours(pixels, True), expected)  # the quirk's gradient is another one
    assert expected.abs().sum() > 0


def test_attacks_raise_the_loss_and_keep_their_budget(tiny_detector, cityscapes):
    from segrel.detect.attacks import DetectionAttack, DetectorBatchAttack, DetectorLoss

    model = tiny_detector
    data, samples = _batch(model, cityscapes)
    rgb = torch.stack([inputs.flip(0) for inputs in data["inputs"]]).float()
    for name, norm, eps, alpha in (("pgd", "linf", 8, 2.55), ("bim", "l2", 256, 64)):
        attack = DetectorBatchAttack(model, DetectionAttack(name, norm, eps, alpha, iterations=3))
        adversarial = torch.stack([inputs.flip(0) for inputs in attack(data, samples)])
        delta = adversarial - rgb
        if norm == "linf":
            assert delta.abs().max() <= eps + 1e-4
        else:
            assert torch.linalg.vector_norm(delta.flatten(1), dim=1).max() <= eps + 1e-3
        assert adversarial.min() >= 0 and adversarial.max() <= 255
        with torch.no_grad():
            before = DetectorLoss(model, data["data_samples"])(rgb, 0)[0]
            after = DetectorLoss(model, data["data_samples"])(adversarial, 0)[0]
        assert after > before, (name, norm, float(before), float(after))


def test_attacked_sets_record_their_attack_and_are_deterministic(tiny_detector, cityscapes):
    attack = {"name": "pgd", "norm": "linf", "eps": 8, "alpha": 2.55, "iterations": 2, "images": 2}
    first = detect_shard(tiny_detector, _test_set(cityscapes, attack=attack), 0, 1, batch_size=2)
    again = detect_shard(tiny_detector, _test_set(cityscapes, attack=attack), 0, 1, batch_size=1)
    assert len(first.image_names) == 2 and '"name": "pgd"' in first.attack and all(map(len, first.scores))
    for index in range(2):  # an image's random start does not depend on its batch
        np.testing.assert_allclose(first.scores[index], again.scores[index], atol=1e-4)


def test_detectors_resolve_from_mmdets_metafiles():
    from segrel.detect.detectors import resolve_detector

    model = resolve_detector("retinanet_r50_fpn_1x_coco")
    assert (model.config, model.score, model.dataset, model.family) == (
        "retinanet/retinanet_r50_fpn_1x_coco.py", 36.5, "COCO", "RetinaNet")
    assert model.sha256_prefix == "c2398f9e"
    assert resolve_detector("dino-4scale_r50_8xb2-12e_coco").score == 49.0
    with pytest.raises(KeyError, match="close matches: retinanet_r50_fpn_1x_coco"):
        resolve_detector("retinanet_r50_fpn_1x_coc")


def _config(**detection):
    return {"datasets": {"cityscapes": {"format": "cityscapes", "source": "demo"},
                         "idd": {"format": "idd", "source": "demo"}},
            "test_sets": {"cityscapes_val": {"dataset": "cityscapes", "split": "val", "subset": "frankfurt"},
                          "cityscapes_val-fog-3": {"dataset": "cityscapes_val-fog-3", "split": "val",
                                                   "subset": "frankfurt"},
                          "cityscapes_val-grey": {"dataset": "cityscapes_val-grey", "split": "val"},
                          "idd_val": {"dataset": "idd", "split": "val"}},
            "stress": {"test_set": "cityscapes_val", "corruptions": ["fog"], "scenarios": ["grey"], "severity": 3},
            "detection": {"detectors": {"d": {"base": "retinanet/retinanet_r18_fpn_1x_coco.py"}},
                          "attacks": {"methods": {"linf": ["pgd"]}, "linf": {"eps": 8, "alpha": 2.55},
                                      "iterations": 3, "images": 2}, **detection}}


def test_detection_test_sets_are_clean_corrupted_and_attacked():
    from segrel.detect.checks import config_problems, detection_test_sets

    sets = detection_test_sets(_config())
    assert list(sets) == ["cityscapes_val", "cityscapes_val-fog-3", "cityscapes_val-pgd-linf"]  # no scenario
    assert sets["cityscapes_val-fog-3"]["dataset"] == "cityscapes_val-fog-3"
    assert sets["cityscapes_val-fog-3"]["source"] == "cityscapes" and sets["cityscapes_val-fog-3"]["gam"]
    assert sets["cityscapes_val-pgd-linf"]["attack"]["iterations"] == 3
    assert config_problems(_config()) == []
    assert detection_test_sets(_config(detectors={})) == {}


@pytest.mark.parametrize("change, message", [
    ({"detectors": {"d": {"zoo": "retinanet_r50_fpn_1x_coc"}}}, "close matches: retinanet_r50_fpn_1x_coco"),
    ({"detectors": {"d": {"source": "demo"}}}, "a demo detector needs `base`"),
])
def test_bad_detectors_are_named(change, message):
    from segrel.detect.checks import config_problems

    assert any(message in problem for problem in config_problems(_config(**change)))


def test_a_test_set_without_instance_ids_is_refused():
    from segrel.detect.checks import config_problems

    config = _config()
    config["stress"]["test_set"] = "idd_val"
    assert any("it predicts cityscapes classes, and no detection test set is a cityscapes set" in problem
               for problem in config_problems(config))


def test_a_url_detector_is_downloaded_verified_with_mmdets_config(tmp_path):
    """mmdet's Cityscapes Faster R-CNN (no metafile lists it) through a mirror on 127.0.0.1: the
    checkpoint checked against the SHA-256 prefix in its name, the config mmdet's own."""
    import hashlib

    from mmengine.config import Config
    from test_zoo import _mirror

    from segrel.detect.checks import fetched_detector
    from segrel.detect.detectors import mmdet_config_dir
    from segrel.models.zoo import OPENMMLAB_DOWNLOADS, prepare

    payload = b"detector bytes" * 100
    digest = hashlib.sha256(payload).hexdigest()[:8]
    relative = f"mmdetection/v2.0/cityscapes/faster_rcnn_r50_fpn_1x_cityscapes_20200502-{digest}.pth"
    (tmp_path / "mirror" / relative).parent.mkdir(parents=True)
    (tmp_path / "mirror" / relative).write_bytes(payload)
    spec = {"source": "url", "config": "cityscapes/faster-rcnn_r50_fpn_1x_cityscapes.py",
            "weights": OPENMMLAB_DOWNLOADS + relative}
    with _mirror(tmp_path / "mirror") as mirror:
        prepare(fetched_detector(spec), tmp_path / "d.py", tmp_path / "d.pth", mirror=mirror, log=lambda m: None,
                configs_dir=mmdet_config_dir())
    assert (tmp_path / "d.pth").read_bytes() == payload
    cfg = Config.fromfile(str(tmp_path / "d.py"))
    assert cfg.model["type"] == "FasterRCNN" and cfg.model["roi_head"]["bbox_head"]["num_classes"] == 8
    assert "Pretrained" not in str(cfg.model) and "SyncBN" not in str(cfg.model)


@pytest.mark.parametrize("spec, message", [
    ({"source": "url", "config": "cityscapes/faster-rcnn_r50_fpn_1x_cityscapes.py"}, "needs `weights`, `trained_on`"),
    ({"source": "url", "config": "c.py", "weights": "https://host/model.pth", "trained_on": "cityscapes"},
     "no checksum to verify against"),
])
def test_bad_url_detectors_are_named(spec, message):
    from segrel.detect.checks import config_problems

    assert any(message in problem for problem in config_problems(_config(detectors={"d": spec})))


@pytest.mark.slow
def test_pgd_lowers_the_map_of_a_trained_demo_detector(tmp_path):
    """The demo's Faster R-CNN R18 (config/config.yaml), trained as rule train_demo_detector trains
    it (~100 s on one core), loses mAP under PGD l_inf on the images it detects best."""
    import yaml

    from segrel.data.demo.writers import write_cityscapes
    from segrel.detect.detectors import DetectorTrainingSettings, load_detector, train_demo_detector

    demo = yaml.safe_load((Path(__file__).resolve().parents[1] / "config" / "config.yaml").read_text())
    root = tmp_path / "cityscapes"
    write_cityscapes(root, seed=0, height=128, width=256, cities=demo["demo"]["cityscapes"])
    for split in ("train", "val"):
        write_coco_annotations(root, split, tmp_path / f"instances_{split}.json")
    detection = demo["detection"]
    spec = detection["detectors"]["faster_rcnn_r18"]
    settings = DetectorTrainingSettings(base=spec["base"], overrides=spec["overrides"], resize_ratio=[0.8, 1.25],
                                        seed=0, **detection["training"])
    torch.set_num_threads(1)
    train_demo_detector(tmp_path / "d.py", tmp_path / "d.pth", settings, ann_file=tmp_path / "instances_train.json",
                        data_root=root)
    model = load_detector(tmp_path / "d.py", tmp_path / "d.pth")
    test_set = DetectionTestSet(root=str(root), split="val", subset="frankfurt",
                                annotations=str(tmp_path / "instances_val.json"))
    attack = {"name": "pgd", "norm": "linf", "eps": 8, "alpha": 2.55, "iterations": 5, "images": 8}
    attacked = detect_shard(model, DetectionTestSet(**{**test_set.__dict__, "attack": attack}), 0, 1, batch_size=4)
    clean = detect_shard(model, test_set, 0, 1, batch_size=4).subset(attacked.image_names)
    clean_map = coco_metrics(clean, test_set.annotations)["bbox_mAP"]
    attacked_map = coco_metrics(attacked, test_set.annotations)["bbox_mAP"]
    assert clean_map > 0.1, clean_map  # it learnt to detect
    assert attacked_map < 0.7 * clean_map, (clean_map, attacked_map)


# ---- COCO val2017 (DetecBench's own benchmark), in its layout and its 80 categories

@pytest.fixture(scope="module")
def coco(tmp_path_factory):
    """A demo COCO (64x128): train2017 and val2017 with annotations/instances_<split>.json."""
    from segrel.data.demo.writers import write_coco

    root = tmp_path_factory.mktemp("coco") / "coco"
    write_coco(root, seed=3, height=64, width=128, images={"train2017": 2, "val2017": 4})
    return root


def test_demo_coco_boxes_are_pycocotools_boxes_in_cocos_categories(cityscapes):
    """The demo writer's boxes = pycocotools' box and area of each instance mask (Cityscapes
    instance ids of a demo scene), its classes mapped to COCO's ids by name (a rider is a person)."""
    import pycocotools.mask as mask_utils

    from segrel.core import formats
    from segrel.core.labels import COCO_CATEGORIES
    from segrel.data.demo.writers import coco_boxes
    from segrel.detect.annotations import instance_file

    sample = formats.list_samples("cityscapes", cityscapes, "val", "frankfurt")[0]
    ids = formats.read_ids(instance_file(sample)).astype(np.int64)
    ours = coco_boxes(ids)
    instances = [i for i in np.unique(ids[ids >= 24]) if (i // 1000 if i >= 1000 else i) in DETECTION_CLASSES]
    assert len(ours) == len(instances) > 3
    coco_ids = {name: key for key, name in COCO_CATEGORIES.items()}
    for instance, box in zip(instances, ours):
        rle = mask_utils.encode(np.asfortranarray((ids == instance)[:, :, None].astype(np.uint8)))[0]
        assert box["bbox"] == mask_utils.toBbox(rle).tolist() and box["area"] == float(mask_utils.area(rle))
        name = DETECTION_CLASSES[int(instance // 1000 if instance >= 1000 else instance)]
        assert box["category_id"] == coco_ids["person" if name == "rider" else name]
        assert box["iscrowd"] == int(instance < 1000)


def test_coco_categories_are_mmdets_labels(coco):
    """mmdet's CocoDataset reads the demo file with COCO's ids mapped to its 80 label indices."""
    from mmdet.datasets import CocoDataset

    from segrel.core.labels import COCO_CATEGORIES

    assert tuple(COCO_CATEGORIES.values()) == CocoDataset.METAINFO["classes"]
    assert list(COCO_CATEGORIES)[-1] == 90 and COCO_CATEGORIES[13] == "stop sign"
    dataset = CocoDataset(ann_file=str(coco / "annotations" / "instances_val2017.json"), data_root=str(coco),
                          data_prefix={"img": "val2017/"}, test_mode=True, pipeline=[], lazy_init=False)
    assert dataset.cat_ids == list(COCO_CATEGORIES) and dataset.cat2label[3] == 2 and dataset.cat2label[90] == 79
    truth = json.loads((coco / "annotations" / "instances_val2017.json").read_text())
    assert len(dataset) == len(truth["images"]) == 4


def _coco_detections(annotations: Path) -> Detections:
    """Every box of a COCO file found (score 0.9), labelled by its category's index in COCO's 80."""
    from segrel.core.labels import COCO_CATEGORIES

    truth = json.loads(annotations.read_text())
    index = {key: position for position, key in enumerate(COCO_CATEGORIES)}
    detections = Detections(classes=tuple(COCO_CATEGORIES.values()))
    for image in truth["images"]:
        found = [a for a in truth["annotations"] if a["image_id"] == image["id"] and not a["iscrowd"]]
        detections.add(image["file_name"][:-4], image["id"], [[x, y, x + w, y + h] for x, y, w, h in
                                                               (a["bbox"] for a in found)],
                       [0.9] * len(found), [index[a["category_id"]] for a in found])
    return detections


def test_coco_map_maps_labels_to_cocos_category_ids(coco):
    """Every true box found with its label index: mAP 1.0 (a label read as the wrong category id
    would miss); one car relabelled as a truck: what pycocotools gives for those category ids."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    annotations = coco / "annotations" / "instances_val2017.json"
    perfect = _coco_detections(annotations)
    assert coco_metrics(perfect, annotations)["bbox_mAP"] == 1.0
    wrong = _coco_detections(annotations)
    first_car = next(i for i, labels in enumerate(wrong.labels) if 2 in labels)
    wrong.labels[first_car] = np.where(wrong.labels[first_car] == 2, 7, wrong.labels[first_car])  # car -> truck
    results = [{"image_id": image_id, "category_id": list(__import__("segrel.core.labels", fromlist=["x"])
                                                          .COCO_CATEGORIES)[label],
                "score": 0.9, "bbox": [x1, y1, x2 - x1, y2 - y1]}
               for image_id, boxes, labels in zip(wrong.image_ids, wrong.boxes, wrong.labels)
               for (x1, y1, x2, y2), label in zip(boxes.tolist(), labels.tolist())]
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):
        truth = COCO(str(annotations))
        evaluation = COCOeval(truth, truth.loadRes(results), "bbox")
        evaluation.evaluate()
        evaluation.accumulate()
        evaluation.summarize()
    assert coco_metrics(wrong, annotations)["bbox_mAP"] == round(float(evaluation.stats[0]), 3) < 1.0


@pytest.fixture(scope="module")
def coco_detector(tmp_path_factory, coco):
    """An untrained small RetinaNet of COCO's 80 classes, trained (were it) on COCO's train2017."""
    model, cfg = _untrained_retinanet(tmp_path_factory.mktemp("coco_detector"), "coco",
                                      coco / "annotations" / "instances_train2017.json", coco)
    assert cfg.model["bbox_head"]["num_classes"] == 80
    assert cfg.train_dataloader["dataset"]["type"] == "CocoDataset"
    assert cfg.train_dataloader["dataset"]["data_prefix"] == {"img": "train2017/"}
    return model


def test_a_coco_set_and_its_corrupted_copy_are_detected_and_attacked(coco_detector, coco, tmp_path):
    """COCO's layout through the stress stage's writer (file names kept, the annotation file
    copied once) and the detect stage's loader: every image detected, an attack changes them."""
    from segrel.core import formats
    from segrel.stress.testsets import StressedSet, write_stressed_set

    spec = StressedSet(format="coco", root=str(coco), split="val2017", subset="*", name="gaussian_noise", severity=3,
                       seed=0, images=3)
    assert write_stressed_set(spec, tmp_path / "noisy") == 3
    noisy = formats.list_samples("coco", tmp_path / "noisy", "val2017")
    assert [s.name for s in noisy] == [s.name for s in formats.list_samples("coco", coco, "val2017")[:3]]
    assert noisy[0].label.read_bytes() == (coco / "annotations" / "instances_val2017.json").read_bytes()
    assert not np.array_equal(formats.read_image(noisy[0].image),
                              formats.read_image(coco / "val2017" / noisy[0].image.name))
    annotations = str(coco / "annotations" / "instances_val2017.json")
    test_set = DetectionTestSet(root=str(tmp_path / "noisy"), split="val2017", subset="*", annotations=annotations,
                                format="coco")
    found = detect_shard(coco_detector, test_set, 0, 1, batch_size=2)
    assert found.image_names == [s.name for s in noisy] and len(found.classes) == 80
    assert set(coco_metrics(found, annotations)) == set(METRICS)
    attack = {"name": "pgd", "norm": "linf", "eps": 8, "alpha": 2.55, "iterations": 2, "images": 2, "seed": 0,
              "raw_input_loss": False}
    clean = DetectionTestSet(root=str(coco), split="val2017", subset="*", annotations=annotations, format="coco",
                             images=3)
    attacked = detect_shard(coco_detector, DetectionTestSet(**{**clean.__dict__, "attack": attack}), 0, 1,
                            batch_size=2)
    assert attacked.image_names == found.image_names[:2] and '"name": "pgd"' in attacked.attack
    # the attack's targets are each image's COCO boxes (mmdet's CocoDataset): its loss rises
    from segrel.detect.attacks import DetectionAttack, DetectorBatchAttack, DetectorLoss
    from segrel.detect.evaluation import TestSetLoader

    samples = clean.samples()[:2]
    data = TestSetLoader(coco_detector, clean).batch(samples)
    assert all(len(sample.gt_instances) for sample in data["data_samples"])
    rgb = torch.stack([inputs.flip(0) for inputs in data["inputs"]]).float()
    adversarial = torch.stack([inputs.flip(0) for inputs in DetectorBatchAttack(
        coco_detector, DetectionAttack("pgd", "linf", 8, 2.55, iterations=3))(data, samples)])
    with torch.no_grad():
        before = DetectorLoss(coco_detector, data["data_samples"])(rgb, 0)[0]
        after = DetectorLoss(coco_detector, data["data_samples"])(adversarial, 0)[0]
    assert after > before


def _coco_config(**detection):
    config = _config(**detection)
    config["datasets"]["coco"] = {"format": "coco", "source": "demo"}
    config["stress"]["corruptions"] = ["fog", "fog_3d", "physics_rain"]
    config["stress"]["depth_estimator"] = {"source": "demo"}
    config["detection"]["test_sets"] = {"coco_val": {"dataset": "coco", "split": "val2017", "images": 5}}
    config["detection"]["detectors"]["c"] = {"zoo": "retinanet_r50_fpn_1x_coco"}
    return config


def test_coco_test_sets_get_their_own_corrupted_copies_and_attacks():
    from segrel.detect.checks import add_datasets, config_problems, detection_test_sets, detector_label_space

    config = _coco_config()
    add_datasets(config)
    # the stress stage writes these copies (rule stress_dataset): all images up to `images`, no
    # scenario, and no physics_rain (it reads segmentation labels, which COCO has not)
    assert {name: spec["stress"] for name, spec in config["datasets"].items() if "stress" in spec} == {
        f"coco_val-{name}-3": {"dataset": "coco", "split": "val2017", "subset": "*", "name": name, "severity": 3,
                               "images": 5} for name in ("fog", "fog_3d")}
    sets = detection_test_sets(config)
    coco_sets = [name for name, record in sets.items() if record["format"] == "coco"]
    assert coco_sets == ["coco_val", "coco_val-fog-3", "coco_val-fog_3d-3", "coco_val-pgd-linf"]
    assert {sets[name]["clean"] for name in coco_sets} == {"coco_val"} and sets["coco_val-fog-3"]["gam"]
    assert sets["coco_val-pgd-linf"]["images"] == 5 and sets["coco_val-pgd-linf"]["attack"]["images"] == 2
    assert [detector_label_space(d, config) for d in config["detection"]["detectors"].values()] == ["cityscapes",
                                                                                                   "coco"]
    assert config_problems(config) == []


@pytest.mark.parametrize("change, message", [
    (lambda c: c["detection"].pop("test_sets"), "it predicts coco classes, and no detection test set is a coco set"),
    (lambda c: c["stress"].pop("depth_estimator"), "fog_3d render from depth, which COCO does not ship"),
    (lambda c: c["detection"]["test_sets"].update(other={"dataset": "coco"}), "have the same label space (coco)"),
    (lambda c: c["detection"]["test_sets"].update(bad={"dataset": "idd"}), "bad is of format idd"),
    (lambda c: c["detection"]["detectors"].update(t={"base": "x.py", "train_dataset": "idd"}),
     "its training dataset 'idd' is not a cityscapes- or coco-format dataset"),
])
def test_bad_detection_test_sets_are_named(change, message):
    from segrel.detect.checks import config_problems

    config = _coco_config()
    change(config)
    assert any(message in problem for problem in config_problems(config)), config_problems(config)


def test_an_attack_curve_keeps_each_iterations_detections(tiny_detector, cityscapes, tmp_path):
    """detection.attacks.curves: the detections of every iterate (BIM's first is the clean image),
    the attack itself unchanged, and the curve kept through save / load / subset / merge."""
    attack = {"name": "bim", "norm": "linf", "eps": 8, "alpha": 2.55, "iterations": 3, "images": 2}
    plain = detect_shard(tiny_detector, _test_set(cityscapes, attack=attack), 0, 1, batch_size=2)
    curved = detect_shard(tiny_detector, _test_set(cityscapes, attack={**attack, "curve": True}), 0, 1, batch_size=2)
    clean = detect_shard(tiny_detector, _test_set(cityscapes), 0, 1, batch_size=2).subset(curved.image_names)
    assert not plain.curve and len(curved.curve) == 3
    assert all(len(scores) for scores in clean.scores)  # something to compare
    for index in range(2):
        np.testing.assert_allclose(curved.scores[index], plain.scores[index], atol=1e-5)
        np.testing.assert_allclose(curved.curve[0].scores[index], clean.scores[index], atol=1e-5)
        np.testing.assert_allclose(curved.curve[0].boxes[index], clean.boxes[index], atol=1e-3)
    assert not np.allclose(curved.curve[0].scores[0], curved.scores[0], atol=1e-5)  # the attack moved them
    curved.save(tmp_path / "curve.npz")
    loaded = Detections.load(tmp_path / "curve.npz")
    first, second = (loaded.subset([name]) for name in loaded.image_names)
    merged = first.merge(second)
    for before, after in zip([curved, *curved.curve], [merged, *merged.curve]):
        assert after.image_names == before.image_names
        for index in range(2):
            np.testing.assert_array_equal(after.scores[index], before.scores[index])
    with pytest.raises(ValueError, match="different attacks"):
        plain.merge(Detections(attack=plain.attack, classes=plain.classes, curve=[Detections()]))


def test_a_coco_set_is_refused_as_a_segmentation_test_set():
    from segrel.config import ConfigError, validate_config

    schema = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml"
    with pytest.raises(ConfigError, match=r"test_sets.coco_val': 'coco' is a detection dataset .*list it under "
                                          r"detection.test_sets"):
        validate_config({"datasets": {"coco": {"format": "coco", "source": "demo"}},
                         "test_sets": {"coco_val": {"dataset": "coco", "split": "val2017"}}}, schema)
