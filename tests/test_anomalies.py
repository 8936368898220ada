"""The OOD-object inpainting stage on the tiny generators: RoadAnomaly21 datasets, the detection
table and their evaluation end to end, byte-identical sharding, and a loud failure when every
detection fails (the tiny Grounding DINO is untrained: the thresholds decide what it finds)."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from segrel.config import validate_config
from segrel.core import formats
from segrel.generate.demo import builders

OBJECTS = ["lion", "elephant"]


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The untrained tiny generators, built here (the demo's pre-training is not what is tested)."""
    root = tmp_path_factory.mktemp("generators")
    for name in ("inpainting", "detector", "segmenter"):
        builders.build(name, root / name)
    return root


@pytest.fixture
def flush_denormal():
    """As the rule script does: the tiny random models' subnormal floats make CPU math ~100x slower."""
    import torch

    torch.set_flush_denormal(True)
    yield
    torch.set_flush_denormal(False)


def test_unreachable_thresholds_fail_every_sample_and_no_empty_set_is_written(built, tmp_path, flush_denormal):
    from segrel.data.demo.writers import write_cityscapes
    from segrel.generate.inpainting import (
        InpaintingSettings,
        anomaly_items,
        detection_table,
        load_models,
        write_anomaly_dataset,
        write_anomaly_shard,
    )

    write_cityscapes(tmp_path / "cs", seed=0, height=64, width=128, cities={"val": {"lindau": 1}})
    sources = formats.list_samples("cityscapes", tmp_path / "cs", "val")
    models = load_models(built / "inpainting", built / "detector", built / "segmenter")
    schema = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml"
    settings = InpaintingSettings.from_section(validate_config({}, schema)["generation"]["anomalies"])
    settings = replace(settings, steps=1, resolution=64, refinement_steps=2, box_threshold=1.01, text_threshold=1.01)
    table = write_anomaly_shard(tmp_path / "shard", models, anomaly_items(OBJECTS, sources, 3), set_name="objects",
                                seed=0, settings=settings)
    assert table.detected.tolist() == [False, False, False] and table.mask_pixels.tolist() == [0, 0, 0]
    assert not (tmp_path / "shard" / "images").exists()
    counts = detection_table({"objects": table})
    assert counts[["object", "generated", "detected", "failed"]].values.tolist() == [["lion", 2, 0, 2],
                                                                                     ["elephant", 1, 0, 1]]
    with pytest.raises(ValueError, match=r"no sample of synthetic_anomalies was detected \(3 generated, 3 failed"):
        write_anomaly_dataset(tmp_path / "set", [tmp_path / "shard"], set_label="synthetic_anomalies")
    assert not (tmp_path / "set" / "dataset_AnomalyTrack").exists()


def tiny_config(tiny_study, built, **anomalies):
    return tiny_study({
        "models": {name: {"source": "local", "path": str(built / name)}
                   for name in ("inpainting", "detector", "segmenter")},
        # thresholds 0: every box passes, so the untrained detector finds something
        "anomalies": {"enabled": True, "objects": OBJECTS, "images": 3, "shards": 1, "resolution": 64,
                      "steps": 2, "refinement_steps": 4, "box_threshold": 0.0, "text_threshold": 0.0,
                      **anomalies},
    }, train_images=2)


@pytest.mark.workflow
def test_inpainted_sets_are_evaluated_roadanomaly21_datasets(snakemake, tiny_study, built, tmp_path):
    root = tmp_path / "resources" / "datasets"
    targets = ["results/tables/metrics.csv", "results/tables/generate/inpainting_detections.csv",
               "results/figures/inpainting_control.png", "results/figures/generate/inpainting_samples.png"]
    snakemake(tmp_path, tiny_config(tiny_study, built), "--cores", "2", *targets)

    # 3 samples, objects cycled: lion, elephant, lion; the control: car x 3
    detections = pd.read_csv(tmp_path / "results" / "tables" / "generate" / "inpainting_detections.csv")
    assert detections[["set", "object", "generated"]].values.tolist() == [
        ["objects", "lion", 2], ["objects", "elephant", 1], ["control", "car", 3]]
    assert (detections.detected + detections.failed == detections.generated).all()
    detected = {s: int(detections[detections.set == s].detected.sum()) for s in ("objects", "control")}
    assert detected["objects"] > 0 and detected["control"] > 0

    for name, count in [("synthetic_anomalies", detected["objects"]),
                        ("synthetic_anomalies_control", detected["control"])]:
        samples = formats.list_samples(formats.GENERATED_ANOMALY_FORMAT, root / name, "validation")
        assert [s.name for s in samples] == [f"validation{i:04d}" for i in range(count)], name
        table = pd.read_csv(root / name / "samples.csv")
        assert table.image.tolist() == [s.name for s in samples] and table.detected.all()
        for sample, row in zip(samples, table.itertuples()):
            assert formats.read_image(sample.image).shape == (64, 128, 3)
            label = formats.read_label(formats.GENERATED_ANOMALY_FORMAT, sample.label)
            assert set(np.unique(label)) == {0, 1}  # void_square off: binary, as GenVal's masks
            ys, xs = np.nonzero(label == 1)
            assert len(ys) == row.mask_pixels > 0
            # the object lies in its square: 16..32 px at 64 px height, in the lower 3/4
            assert 16 <= row.side <= 32 and row.top >= 16
            assert row.top <= ys.min() and ys.max() < row.top + row.side
            assert row.left <= xs.min() and xs.max() < row.left + row.side

    metrics = pd.read_csv(tmp_path / "results" / "tables" / "metrics.csv", keep_default_na=False)
    for name, count in [("synthetic_anomalies", detected["objects"]),
                        ("synthetic_anomalies_control", detected["control"])]:
        values = metrics[metrics.test_set == name].set_index(["measure", "score"]).value
        assert values["images", ""] == count and 0 <= values["ood_auroc", "msp"] <= 1, name
    figure = pd.read_csv(tmp_path / "results" / "tables" / "figures" / "inpainting_control.csv")
    assert set(figure.test_set) == {"synthetic_anomalies", "synthetic_anomalies_control"}

    # two shards instead of one: the same bytes (each sample has its own seed); a curated list
    # regenerates nothing and keeps only what it names
    before = {p.relative_to(root): p.read_bytes() for p in sorted((root / "synthetic_anomalies").rglob("*"))
              if p.is_file()}
    kept = pd.read_csv(root / "synthetic_anomalies" / "samples.csv")["sample"].iloc[-1]
    snakemake(tmp_path, tiny_config(tiny_study, built, shards=2, curated=[kept]), "--cores", "2",
              "resources/datasets/synthetic_anomalies", "resources/datasets/synthetic_anomalies_curated")
    assert (tmp_path / "resources" / "synthetic_anomalies" / "objects" / "shard-1-of-2").is_dir()
    after = {p.relative_to(root): p.read_bytes() for p in sorted((root / "synthetic_anomalies").rglob("*"))
             if p.is_file()}
    assert after == before
    curated = pd.read_csv(root / "synthetic_anomalies_curated" / "samples.csv")
    assert curated[["image", "sample"]].values.tolist() == [["validation0000", kept]]
    image = pd.read_csv(root / "synthetic_anomalies" / "samples.csv").set_index("sample").image[kept]
    track = root / "synthetic_anomalies_curated" / "dataset_AnomalyTrack"
    assert (track / "images" / "validation0000.png").read_bytes() == (
        root / "synthetic_anomalies" / "dataset_AnomalyTrack" / "images" / f"{image}.png").read_bytes()


@pytest.mark.workflow
def test_square_masks_need_no_detector(snakemake, tiny_study, tmp_path):
    config = tiny_study({"anomalies": {"enabled": True, "objects": OBJECTS, "images": 2, "object_mask": "square"}})
    planned = snakemake(tmp_path, config, "-n", "--cores", "1", "resources/datasets/synthetic_anomalies").stdout
    assert "inpaint_anomaly_shard" in planned
    assert "generators/initial/detector" not in planned and "generators/initial/segmenter" not in planned
    detected = tiny_study({"anomalies": {"enabled": True, "objects": OBJECTS, "images": 2}})
    planned = snakemake(tmp_path, detected, "-n", "--cores", "1", "resources/datasets/synthetic_anomalies").stdout
    assert "generators/initial/detector" in planned and "generators/initial/segmenter" in planned
