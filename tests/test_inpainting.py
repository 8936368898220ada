"""Inpainting (Loiseau et al.): placement, context crop, blurred mask, paste-back; prompts, labels,
shards and datasets of the OOD-object sets."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from segrel.config import validate_config
from segrel.core.formats import Sample
from segrel.generate import inpainting
from segrel.generate.inpainting import (
    Box,
    InpaintedSample,
    InpaintingSettings,
    anomaly_items,
    anomaly_label,
    context_box,
    detection_table,
    inpainting_mask,
    object_prompt,
    paste_square,
    place_square,
    write_anomaly_dataset,
    write_anomaly_shard,
)

SCHEMA = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml"
# the schema's, as the rule would pass them
DEFAULTS = InpaintingSettings.from_section(validate_config({}, SCHEMA)["generation"]["anomalies"])


@pytest.mark.parametrize("height, width", [(1024, 2048), (256, 512)])
def test_squares_lie_in_the_lower_three_quarters_at_scaled_sizes(height, width):
    rng = np.random.default_rng(0)
    boxes = [place_square(height, width, rng) for _ in range(500)]
    scale = height / 1024
    sides = np.array([b.side for b in boxes])
    assert sides.min() >= round(256 * scale) and sides.max() <= round(512 * scale)
    assert sides.max() - sides.min() > 0.8 * (512 - 256) * scale  # the whole range is used
    assert all(b.top >= height // 4 and b.top + b.side <= height and 0 <= b.left <= width - b.side for b in boxes)
    with pytest.raises(ValueError, match="does not fit"):
        place_square(100, 100, rng, side_range=(1000, 1000))


def test_context_is_one_and_a_half_times_the_square_and_stays_inside():
    square = Box(top=400, left=1000, side=300)
    context = context_box(square, 1024, 2048)
    assert context.side == 450
    assert (context.top, context.left) == (400 - 75, 1000 - 75)  # centred
    corner = context_box(Box(top=1024 - 300, left=2048 - 300, side=300), 1024, 2048)
    assert corner.top + corner.side == 1024 and corner.left + corner.side == 2048  # shifted in
    assert corner.top <= 1024 - 300 and corner.left <= 2048 - 300  # still holds the square


def test_mask_is_the_blurred_square_at_model_size():
    square, context = Box(300, 300, 200), Box(250, 250, 300)
    sharp = np.asarray(inpainting_mask(square, context, size=300, blur=1), dtype=float)
    expected = np.zeros((300, 300))
    expected[50:250, 50:250] = 255
    np.testing.assert_array_equal(sharp, expected)
    blurred = np.asarray(inpainting_mask(square, context, size=300, blur=41), dtype=float)
    assert blurred[150, 150] == 255 and blurred[0, 0] == 0  # centre kept, far corner untouched
    assert 0 < blurred[150, 50] < 255  # the edge is soft
    assert blurred.sum() == pytest.approx(expected.sum(), rel=0.02)  # a box blur keeps the mass


def test_only_the_square_is_pasted_back():
    image = Image.fromarray(np.zeros((64, 128, 3), np.uint8))
    square, context = Box(30, 40, 20), Box(25, 35, 30)
    inpainted = Image.fromarray(np.full((512, 512, 3), 200, np.uint8))
    result = np.asarray(paste_square(image, inpainted, square, context))
    inside = np.zeros((64, 128), bool)
    inside[30:50, 40:60] = True
    assert (result[inside] == 200).all() and (result[~inside] == 0).all()


# ---- OOD-object datasets: prompt, sample ids, labels, shards, merge, detection counts


def test_prompt_article_follows_the_first_letter():
    assert object_prompt("table") == "A photo of a table"
    assert object_prompt("elephant") == "A photo of an elephant"
    assert object_prompt("arcade machine") == "A photo of an arcade machine"
    assert object_prompt("umbrella") == "A photo of an umbrella"
    assert object_prompt("hippopotamus") == "A photo of a hippopotamus"
    assert object_prompt("Owl") == "A photo of an Owl"


def test_items_cycle_objects_and_sources_with_readable_ids():
    items = anomaly_items(["lion", "polar bear", "box"], ["s0", "s1"], 5)
    assert items == [("00000_lion", "lion", "s0"), ("00001_polar_bear", "polar bear", "s1"),
                     ("00002_box", "box", "s0"), ("00003_lion", "lion", "s1"),
                     ("00004_polar_bear", "polar bear", "s0")]


def test_label_is_roadanomaly21_encoded():
    mask = np.zeros((4, 6), bool)
    mask[2, 1:3] = True
    void = np.zeros((4, 6), bool)
    void[1:4, 0:4] = True
    expected = np.array([[0, 0, 0, 0, 0, 0],
                         [255, 255, 255, 255, 0, 0],
                         [255, 1, 1, 255, 0, 0],
                         [255, 255, 255, 255, 0, 0]], np.uint8)
    np.testing.assert_array_equal(anomaly_label(mask, void), expected)
    np.testing.assert_array_equal(anomaly_label(mask), np.where(expected == 1, 1, 0).astype(np.uint8))


class _RecordingPipeline:
    """Stands in for diffusers' pipeline: records the call, returns the image unchanged."""

    def __init__(self):
        self.calls = []

    def __call__(self, **kwargs):
        self.calls.append(kwargs)
        image = kwargs["image"]
        return type("Output", (), {"images": [image]})()


def test_refinement_masks_the_square_over_the_whole_image():
    pipeline = _RecordingPipeline()
    image = Image.fromarray(np.zeros((16, 32, 3), np.uint8))
    inpainting.refine(pipeline, image, Box(top=8, left=4, side=8), "lion", seed=3)
    call = pipeline.calls[0]
    expected = np.zeros((16, 32), np.uint8)
    expected[8:16, 4:12] = 255
    np.testing.assert_array_equal(np.asarray(call["mask_image"]), expected)
    assert (call["prompt"], call["strength"], call["height"], call["width"]) == ("lion", 0.65, 16, 32)
    assert (call["num_inference_steps"], call["guidance_scale"]) == (50, 7.5)  # GenVal: diffusers' defaults
    with pytest.raises(ValueError, match="multiple of 8"):
        inpainting.refine(pipeline, Image.fromarray(np.zeros((20, 32, 3), np.uint8)), Box(8, 4, 8), "lion", seed=3)


def test_sample_mask_lands_in_the_square_and_empty_masks_fail(monkeypatch):
    pipeline = _RecordingPipeline()
    models = inpainting.Models(pipeline, None, None, None, None)
    crop_mask = {}

    def detect(*args, **kwargs):
        crop_mask["shape"] = args[4].size
        return crop_mask.get("mask")

    monkeypatch.setattr(inpainting, "detect_object", detect)
    image = Image.fromarray(np.zeros((64, 128, 3), np.uint8))
    square = place_square(64, 128, np.random.default_rng(7))  # the placement is seeded by the sample seed
    side = square.side
    found = np.zeros((side, side), bool)
    found[1, 2] = True
    crop_mask["mask"] = found
    tiny = replace(DEFAULTS, resolution=64, steps=2)
    result = inpainting.inpaint_sample(models, image, "lion", seed=7, settings=tiny)
    assert result.square == square and crop_mask["shape"] == (side, side)
    assert list(zip(*np.nonzero(result.mask))) == [(square.top + 1, square.left + 2)]
    assert pipeline.calls[0]["prompt"] == "A photo of a lion" and pipeline.calls[1]["prompt"] == "lion"
    crop_mask["mask"] = np.zeros((side, side), bool)
    assert inpainting.inpaint_sample(models, image, "lion", seed=7, settings=tiny).mask is None
    crop_mask["mask"] = None
    assert inpainting.inpaint_sample(models, image, "lion", seed=7, settings=tiny).mask is None
    # object_mask="square": the whole repainted square, whatever the detector says
    whole = inpainting.inpaint_sample(models, image, "lion", seed=7,
                                      settings=replace(DEFAULTS, resolution=64, steps=2, object_mask="square"))
    expected = np.zeros((64, 128), bool)
    expected[square.top : square.top + side, square.left : square.left + side] = True
    np.testing.assert_array_equal(whole.mask, expected)
    with pytest.raises(ValueError, match="object_mask must be"):
        replace(DEFAULTS, object_mask="box")


def _fake_sample(models, image, name, *, seed, settings):
    """Deterministic in the seed; 'ghost' is never detected."""
    rng = np.random.default_rng(seed)
    square = Box(top=2, left=int(rng.integers(0, 4)), side=4)
    if name == "ghost":
        return InpaintedSample(image, square, None)
    mask = np.zeros((image.height, image.width), bool)
    mask[square.top + 1 : square.top + 3, square.left + 1 : square.left + 3] = True
    painted = np.asarray(image).copy()
    painted[mask] = rng.integers(0, 255, 3)
    return InpaintedSample(Image.fromarray(painted), square, mask)


@pytest.fixture
def sources(tmp_path):
    from segrel.core.io import save_png

    paths = []
    for index in range(2):
        path = tmp_path / "sources" / f"source{index}.png"
        save_png(path, np.full((8, 8, 3), 40 * index, np.uint8))
        paths.append(Sample(name=f"source{index}", image=path, label=path, group="x"))
    return paths


def test_shards_write_detected_samples_and_count_failures(monkeypatch, tmp_path, sources):
    from segrel.core.sharding import shard_samples

    monkeypatch.setattr(inpainting, "inpaint_sample", _fake_sample)
    items = anomaly_items(["lion", "ghost", "box"], sources, 5)
    whole = write_anomaly_shard(tmp_path / "whole", None, items, set_name="objects", seed=1, settings=DEFAULTS,
                                void_square=True)
    assert whole["sample"].tolist() == ["00000_lion", "00001_ghost", "00002_box", "00003_lion", "00004_ghost"]
    assert whole.detected.tolist() == [True, False, True, True, False]
    assert whole.mask_pixels.tolist() == [4, 0, 4, 4, 0]
    assert whole.source.tolist() == ["source0", "source1", "source0", "source1", "source0"]
    assert sorted(p.name for p in (tmp_path / "whole" / "images").iterdir()) == [
        "00000_lion.png", "00002_box.png", "00003_lion.png"]  # failed samples are dropped
    # stored losslessly: the inpainted pixels exactly, square and all
    painted = _fake_sample(None, Image.open(sources[0].image).convert("RGB"), "lion", seed=whole.seed[0],
                           settings=DEFAULTS).image
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "whole" / "images" / "00000_lion.png")),
                                  np.asarray(painted))
    label = np.asarray(Image.open(tmp_path / "whole" / "labels" / "00000_lion_labels_semantic.png"))
    left = whole.left[0]
    expected = np.zeros((8, 8), np.uint8)
    expected[2:6, left : left + 4] = 255  # the rest of the square: void (void_square)
    expected[3:5, left + 1 : left + 3] = 1
    np.testing.assert_array_equal(label, expected)
    # each sample's seed depends on (set, id) only: two shards give the same samples
    parts = [write_anomaly_shard(tmp_path / f"part{k}", None, shard_samples(items, k, 2), set_name="objects", seed=1,
                                 settings=DEFAULTS) for k in range(2)]
    merged = pd.concat(parts).sort_values("sample", ignore_index=True)
    pd.testing.assert_frame_equal(merged, whole)
    assert len(set(whole.seed)) == 5
    other = write_anomaly_shard(tmp_path / "other", None, items[:1], set_name="control", seed=1, settings=DEFAULTS)
    assert other.seed[0] != whole.seed[0]  # the set is part of the seed


def test_datasets_renumber_detected_samples_and_refuse_to_be_empty(monkeypatch, tmp_path, sources):
    from segrel.core import formats
    from segrel.core.sharding import shard_samples

    monkeypatch.setattr(inpainting, "inpaint_sample", _fake_sample)
    items = anomaly_items(["lion", "ghost", "box"], sources, 5)
    shards = [tmp_path / f"shard-{k}" for k in range(2)]
    for k, shard in enumerate(shards):
        write_anomaly_shard(shard, None, shard_samples(items, k, 2), set_name="objects", seed=1, settings=DEFAULTS)
    kept = write_anomaly_dataset(tmp_path / "all", shards, set_label="synthetic_anomalies")
    assert kept[["image", "sample"]].values.tolist() == [
        ["validation0000", "00000_lion"], ["validation0001", "00002_box"], ["validation0002", "00003_lion"]]
    samples = formats.list_samples("smiyc_png", tmp_path / "all", "validation")
    assert [s.name for s in samples] == ["validation0000", "validation0001", "validation0002"]
    assert (samples[1].image.read_bytes() == (shards[0] / "images" / "00002_box.png").read_bytes())
    assert set(np.unique(formats.read_label("smiyc_png", samples[0].label))) == {0, 1}
    assert sorted(p.name for p in (tmp_path / "all").iterdir()) == ["dataset_AnomalyTrack", "samples.csv"]

    curated = write_anomaly_dataset(tmp_path / "curated", shards, set_label="curated", keep=["00003_lion"])
    assert curated[["image", "sample"]].values.tolist() == [["validation0000", "00003_lion"]]
    with pytest.raises(ValueError, match="not detected in curated: 00001_ghost"):
        write_anomaly_dataset(tmp_path / "bad", shards, set_label="curated", keep=["00001_ghost"])
    ghosts = anomaly_items(["ghost"], sources, 2)
    write_anomaly_shard(tmp_path / "ghosts", None, ghosts, set_name="control", seed=1, settings=DEFAULTS)
    with pytest.raises(ValueError, match=r"no sample of control was detected \(2 generated, 2 failed"):
        write_anomaly_dataset(tmp_path / "empty", [tmp_path / "ghosts"], set_label="control")


def test_detection_table_counts_per_object():
    objects = pd.DataFrame({"sample": ["00000_lion", "00001_box", "00002_lion", "00003_box", "00004_lion"],
                            "object": ["lion", "box", "lion", "box", "lion"],
                            "detected": [True, False, False, False, True]})
    control = pd.DataFrame({"sample": ["00000_car", "00001_car"], "object": ["car", "car"],
                            "detected": [True, True]})
    table = detection_table({"objects": objects, "control": control}, curated={"objects": ["00004_lion"]})
    assert table.values.tolist() == [["objects", "lion", 3, 2, 1, 1], ["objects", "box", 2, 0, 2, 0],
                                     ["control", "car", 2, 2, 0, 0]]




def test_config_adds_the_inpainted_sets_only_when_enabled():
    from segrel.config import ConfigError, validate_config

    config = validate_config({}, SCHEMA)
    anomalies = config["generation"]["anomalies"]
    assert len(anomalies["objects"]) == 42 and anomalies["control"] == "car"
    assert not any("anomalies" in d for d in config["datasets"].values())
    config = validate_config({"generation": {"anomalies": {"enabled": True, "curated": ["00001_chair"]}}}, SCHEMA)
    # with the schema's defaults, as every configured dataset
    assert config["datasets"]["synthetic_anomalies_curated"] == {"format": "smiyc_png", "source": "generated",
                                                                 "anomalies": "curated", "checksums": {},
                                                                 "unknown_ids": "error", "depth": False}
    assert config["test_sets"]["synthetic_anomalies_control"] == {"dataset": "synthetic_anomalies_control",
                                                                  "split": "validation", "subset": "*",
                                                                  "excluded_classes": []}
    assert "synthetic_anomalies" in config["test_sets"]
    with pytest.raises(ConfigError, match="00001_table are not sample ids"):
        validate_config({"generation": {"anomalies": {"enabled": True, "curated": ["00001_table"]}}}, SCHEMA)
    with pytest.raises(ConfigError, match="'generation.anomalies.source_set': no caption set named 'cs_test'"):
        validate_config({"generation": {"anomalies": {"enabled": True, "source_set": "cs_test"}}}, SCHEMA)
    with pytest.raises(ConfigError, match="generation.anomalies.enabled is false"):
        validate_config({"datasets": {"x": {"format": "smiyc_png", "source": "generated", "anomalies": "all"}}}, SCHEMA)
    with pytest.raises(ConfigError, match="smiyc_png is what segrel's generate stage writes"):
        validate_config({"datasets": {"x": {"format": "smiyc_png", "source": "demo"}}}, SCHEMA)


def test_control_figure_keeps_the_requested_sets_and_metrics():
    from segrel.analyse.figures import inpainting_control_figure

    metrics = pd.DataFrame({"model": ["a", "a", "b", "b", "a"],
                            "test_set": ["synthetic_anomalies", "synthetic_anomalies_control"] * 2 + ["smiyc_anomaly"],
                            "measure": ["ood_auroc"] * 5, "score": ["msp"] * 5, "value": [0.9, 0.6, 0.8, 0.5, 0.7]})
    figure, data = inpainting_control_figure(
        metrics, {"OOD objects": "synthetic_anomalies", "control: car": "synthetic_anomalies_control"},
        ["ood_auroc_msp", "ood_aupr_msp"])
    assert data[["model", "set", "value"]].values.tolist() == [
        ["a", "OOD objects", 0.9], ["a", "control: car", 0.6], ["b", "OOD objects", 0.8], ["b", "control: car", 0.5]]
    with pytest.raises(ValueError, match="enable generation.anomalies"):
        inpainting_control_figure(metrics, {"x": "synthetic_nothing"}, ["ood_auroc_msp"])
