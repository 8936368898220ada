"""One record per dataset format: every stage reads it, and a new format is one new record."""

import re
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml

from segrel.config import ConfigError, validate_config
from segrel.core import formats
from segrel.data.demo import writers

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


def test_every_record_names_a_demo_writer_and_its_publisher():
    """... except the formats only the generate stage writes (its inpainted sets, PNG images)."""
    assert formats.GENERATED_ONLY == ("smiyc_png",) and formats.GENERATED_ANOMALY_FORMAT == "smiyc_png"
    for name, record in formats.FORMATS.items():
        assert record.name == name
        assert record.kind in ("segmentation", "anomaly", "detection")
        assert (record.label_table is None) == (record.kind != "segmentation")
        assert bool(record.layout.annotations) == (record.kind == "detection")  # one COCO file per split
        if name in formats.GENERATED_ONLY:
            assert record.demo_writer is None and not record.source.packages
            continue
        assert callable(getattr(writers, record.demo_writer)), record.demo_writer
        assert record.source.package_names and record.source.registration.startswith("https://")


def test_local_ood_ids_are_idds_classes_cityscapes_lacks():
    """IDD level-3 ids (AutoNUE's anue_labels.py) of autorickshaw, vehicle fallback, guard rail,
    billboard, obs-str-bar-fallback and bridge; no other format has local OOD regions."""
    assert sorted(formats.FORMATS["idd"].local_ood_ids) == [8, 12, 16, 17, 21, 23]
    assert all(not record.local_ood_ids for name, record in formats.FORMATS.items() if name != "idd")


def test_a_new_record_is_a_valid_config_format(monkeypatch, tmp_path):
    def config():  # the small study, with a dataset of the new format as one more test set
        study = yaml.safe_load((REPO / "tools" / "slurm" / "small-study.yaml").read_text())
        study["datasets"]["mapillary"] = {"format": "mapillary", "source": "local", "path": str(tmp_path)}
        study["test_sets"]["mapillary_val"] = {"dataset": "mapillary", "split": "val"}
        return study

    with pytest.raises(ConfigError, match="'mapillary' is not one of"):
        validate_config(config(), SCHEMA)
    record = replace(formats.FORMATS["cityscapes"], name="mapillary")
    monkeypatch.setitem(formats.FORMATS, "mapillary", record)
    validate_config(config(), SCHEMA)
    assert formats.dataset_format("mapillary") is record


def test_unknown_format_names_the_known_ones():
    with pytest.raises(ValueError, match="unknown dataset format 'kitti'; choose one of cityscapes, acdc, idd, smiyc"):
        formats.dataset_format("kitti")


def test_a_subset_list_is_the_union_of_its_globs(tmp_path):
    """RELIS' calibration split: Cityscapes val of lindau and munster, not frankfurt."""
    from segrel.data.demo.writers import write_cityscapes

    write_cityscapes(tmp_path, seed=1, height=16, width=32, cities={"val": {"frankfurt": 2, "lindau": 1, "munster": 2}})
    union = formats.list_samples("cityscapes", tmp_path, "val", ["lindau", "munster"])
    assert [sample.image.parent.name for sample in union] == ["lindau", "munster", "munster"]
    assert union == [*formats.list_samples("cityscapes", tmp_path, "val", "lindau"),
                     *formats.list_samples("cityscapes", tmp_path, "val", "munster")]
    with pytest.raises(FileNotFoundError, match="no cityscapes images match .*/val/zurich/"):
        formats.list_samples("cityscapes", tmp_path, "val", ["lindau", "zurich"])


def test_label_ids_a_format_does_not_have_are_refused_or_void(tmp_path):
    ids = np.array([[7, 7, 200], [26, 0, 200]], np.uint8)  # road, road, 200 (no such id), 26 = car
    with pytest.raises(ValueError) as error:
        formats.to_labels("cityscapes", ids, tmp_path / "x_gtFine_labelIds.png")
    assert str(error.value) == (f"{tmp_path / 'x_gtFine_labelIds.png'}: label ids that cityscapes does not have: "
                                "200 (2 px) (valid: 0-33); fix the file, or set unknown_ids: void for this dataset "
                                "if it is known to carry such ids")
    np.testing.assert_array_equal(formats.to_labels("cityscapes", ids, unknown_ids="void"),
                                  [[0, 0, 255], [13, 255, 255]])
    # IDD's level-3 ids: 0-25 and 255 (unlabeled); SMIYC's masks: 0, 1, 255
    assert formats.to_labels("idd", np.array([[0, 255]], np.uint8)).tolist() == [[0, 255]]
    with pytest.raises(ValueError, match=r"label ids that idd does not have: 26 \(1 px\), 254 \(1 px\) "
                                         r"\(valid: 0-25, 255\)"):
        formats.to_labels("idd", np.array([[26, 254]], np.uint8))
    assert formats.to_labels("smiyc", np.array([[1, 2]], np.uint8), unknown_ids="void").tolist() == [[1, 255]]


def test_a_damaged_image_or_label_file_is_named(tmp_path):
    from PIL import Image

    path = tmp_path / "x_gtFine_labelIds.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 34, (64, 128), dtype=np.uint8)).save(path)
    path.write_bytes(path.read_bytes()[:200])  # truncated
    for read in (formats.read_ids, formats.read_image):
        with pytest.raises(ValueError, match=rf"^{re.escape(str(path))}: cannot be read as an image \(.*\); restore "
                                             "it from the dataset's archive or re-run the rule that wrote it$"):
            read(path)
    with pytest.raises(FileNotFoundError):
        formats.read_ids(tmp_path / "missing.png")
