"""The embedded demo datasets: real layouts, real label encodings, determinism, atomicity.

Formats are checked against cityscapesScripts' label table and the published file-name
patterns of Cityscapes, ACDC, IDD and SMIYC RoadAnomaly21, not against segrel's own tables.
"""

import hashlib
import re
from pathlib import Path

import numpy as np
import pytest
from cityscapesscripts.helpers.labels import id2label
from PIL import Image

from segrel.core import formats
from segrel.data.demo import weather, writers

SIZE = {"height": 96, "width": 192}
CITIES = {"train": {"aachen": 3, "bremen": 2}, "val": {"frankfurt": 2, "lindau": 1, "munster": 1}}


def write_all(root: Path, seed: int = 0) -> dict[str, Path]:
    roots = {name: root / name for name in ("cityscapes", "acdc", "idd", "smiyc")}
    writers.write_cityscapes(roots["cityscapes"], seed=seed, cities=CITIES, **SIZE)
    writers.write_acdc(roots["acdc"], seed=seed, conditions=["fog", "night", "rain", "snow"],
                         images={"train": 2, "val": 1}, **SIZE)
    writers.write_idd(roots["idd"], seed=seed, images={"val": 6}, **SIZE)
    writers.write_smiyc(roots["smiyc"], seed=seed, images=4, objects_per_image=[1, 2], **SIZE)
    return roots


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return write_all(tmp_path_factory.mktemp("demo"))


def read(path):
    with Image.open(path) as image:
        return np.asarray(image)


def relative_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_cityscapes_layout(demo):
    files = relative_files(demo["cityscapes"])
    pattern = re.compile(
        r"(leftImg8bit|gtFine|disparity|camera)/(train|val)/([a-z]+)/\3_\d{6}_\d{6}_"
        r"(leftImg8bit\.png|gtFine_(labelIds|labelTrainIds|color|instanceIds)\.png|disparity\.png|camera\.json)"
    )
    assert files and all(pattern.fullmatch(f) for f in files), [f for f in files if not pattern.fullmatch(f)]
    assert len(files) == 7 * sum(sum(c.values()) for c in CITIES.values())  # 7 files per frame


def test_cityscapes_labels_follow_cityscapesscripts(demo):
    for ids_path in sorted(demo["cityscapes"].glob("gtFine/*/*/*_gtFine_labelIds.png")):
        ids = read(ids_path)
        stem = str(ids_path)[: -len("_labelIds.png")]
        train_ids = read(stem + "_labelTrainIds.png")
        color = read(stem + "_color.png")
        instances = read(stem + "_instanceIds.png")
        image = read(str(ids_path).replace("gtFine", "leftImg8bit", 1).replace("_gtFine_labelIds", "_leftImg8bit"))
        assert ids.dtype == np.uint8 and image.shape == (*ids.shape, 3) and image.dtype == np.uint8
        for label_id in np.unique(ids):
            label = id2label[int(label_id)]
            where = ids == label_id
            assert (train_ids[where] == (label.trainId if 0 <= label.trainId < 255 else 255)).all()
            assert (color[where] == label.color).all()
            if label.hasInstances:
                assert (instances[where] // 1000 == label_id).all()
            else:
                assert (instances[where] == label_id).all()


def test_cityscapes_covers_the_classes(demo):
    seen = set()
    for path in demo["cityscapes"].glob("gtFine/train/*/*_labelTrainIds.png"):
        seen |= set(np.unique(read(path)).tolist())
    # A handful of small images already shows most of the 19 classes.
    assert len(seen - {255}) >= 13, sorted(seen)


def test_disparity_encodes_depth(demo):
    import json

    for path in demo["cityscapes"].glob("disparity/*/*/*_disparity.png"):
        p = read(path).astype(np.float64)
        camera = json.loads(Path(str(path).replace("disparity", "camera")).with_suffix(".json").read_text())
        assert read(path).dtype == np.uint16
        valid = p > 0
        disparity = (p[valid] - 1) / 256
        depth = camera["extrinsic"]["baseline"] * camera["intrinsic"]["fx"] / disparity
        assert depth.min() > 0.5 and np.median(depth) < 200  # metres: a street, not a hallway
        # the bottom rows (near road, ego vehicle) are nearer than the horizon row
        rows = np.where(valid, p, np.nan)
        assert np.nanmean(rows[-5:]) > np.nanmean(rows[int(camera["intrinsic"]["v0"]) + 2])


def test_acdc_layout_and_reference_images(demo):
    files = relative_files(demo["acdc"])
    pattern = re.compile(
        r"(rgb_anon/(fog|night|rain|snow)/(train|val)(_ref)?/GOPR\d{4}/GOPR\d{4}_frame_\d{6}_rgb(_ref)?_anon\.png"
        r"|gt/(fog|night|rain|snow)/(train|val)/GOPR\d{4}/GOPR\d{4}_frame_\d{6}_gt_(labelIds|labelTrainIds|labelColor)\.png)"
    )
    assert all(pattern.fullmatch(f) for f in files), [f for f in files if not pattern.fullmatch(f)]
    assert len(files) == 4 * 3 * 5  # conditions x images x (image, ref, 3 gt)


def test_weather_is_physically_shifted(demo):
    """Night is much darker than its clear reference; fog lowers contrast most far away."""
    root = demo["acdc"]
    for condition in ("night", "fog"):
        for image_path in root.glob(f"rgb_anon/{condition}/train/*/*_rgb_anon.png"):
            ref_path = Path(str(image_path).replace("/train/", "/train_ref/").replace("_rgb_anon", "_rgb_ref_anon"))
            image, ref = read(image_path).astype(float), read(ref_path).astype(float)
            if condition == "night":
                assert image.mean() < 0.6 * ref.mean()
            else:
                assert image.std() < ref.std()


def test_idd_layout_and_level3_ids(demo):
    files = relative_files(demo["idd"])
    pattern = re.compile(r"(leftImg8bit/val/\d+/\d{6}_leftImg8bit|gtFine/val/\d+/\d{6}_gtFine_labellevel3Ids)\.png")
    assert all(pattern.fullmatch(f) for f in files), files
    values, local_ood = set(), 0
    for path in demo["idd"].glob("gtFine/val/*/*_labellevel3Ids.png"):
        values |= set(np.unique(read(path)).tolist())
        local_ood += formats.local_ood_mask("idd", formats.read_ids(path)).sum()
    assert values <= set(range(26)) | {255}
    assert local_ood > 0  # autorickshaws, billboards, guard rails: classes Cityscapes lacks


def test_smiyc_layout_and_masks(demo):
    track = demo["smiyc"] / "dataset_AnomalyTrack"
    images = sorted(p.name for p in (track / "images").iterdir())
    masks = sorted(p.name for p in (track / "labels_masks").iterdir())
    assert images == [f"validation{i:04d}.jpg" for i in range(4)]
    assert masks == [f"validation{i:04d}_labels_semantic.png" for i in range(4)]
    for mask_name in masks:
        mask = read(track / "labels_masks" / mask_name)
        assert set(np.unique(mask).tolist()) <= {0, 1, 255}
        assert (mask == 1).sum() > 20  # every image has a visible anomaly
    with Image.open(track / "images" / images[0]) as image:
        assert image.format == "JPEG"


def test_loader_reads_every_format(demo):
    val = formats.list_samples("cityscapes", demo["cityscapes"], "val")
    assert [s.group for s in val] == ["frankfurt", "frankfurt", "lindau", "munster"]
    frankfurt = formats.list_samples("cityscapes", demo["cityscapes"], "val", "frankfurt")
    assert len(frankfurt) == 2
    # Decoded train ids equal the labelTrainIds files written beside them.
    for sample in val:
        stored = read(str(sample.label).replace("_labelIds", "_labelTrainIds"))
        np.testing.assert_array_equal(formats.read_label("cityscapes", sample.label), stored)
    fog = formats.list_samples("acdc", demo["acdc"], "train", "fog")
    assert len(fog) == 2 and all("/fog/train/" in str(s.image) for s in fog)
    idd = formats.list_samples("idd", demo["idd"], "val")
    assert len(idd) == 6
    assert set(np.unique(formats.read_label("idd", idd[0].label))) <= set(range(19)) | {255}
    anomalies = formats.list_samples("smiyc", demo["smiyc"])
    assert len(anomalies) == 4 and formats.read_image(anomalies[0].image).shape == (96, 192, 3)


def test_loader_errors_name_the_problem(tmp_path, demo):
    with pytest.raises(FileNotFoundError, match="no cityscapes images match"):
        formats.list_samples("cityscapes", tmp_path, "val")
    with pytest.raises(ValueError, match="unknown dataset format 'kitti'"):
        formats.list_samples("kitti", tmp_path)


def digest(root: Path) -> str:
    h = hashlib.sha256()
    for rel in relative_files(root):
        h.update(rel.encode())
        h.update((root / rel).read_bytes())
    return h.hexdigest()


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path, demo):
    again = write_all(tmp_path / "again")
    for name in demo:
        assert digest(again[name]) == digest(demo[name]), name
    other = tmp_path / "other"
    writers.write_idd(other, seed=1, images={"val": 6}, **SIZE)
    assert digest(other) != digest(demo["idd"])


def test_a_failed_writer_leaves_nothing(tmp_path, monkeypatch):
    calls = {"n": 0}
    real_render = weather.render

    def failing_render(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("disk full")
        return real_render(*args, **kwargs)

    monkeypatch.setattr(writers, "render", failing_render)
    with pytest.raises(RuntimeError, match="disk full"):
        writers.write_idd(tmp_path / "idd", seed=0, images={"val": 5}, **SIZE)
    assert list(tmp_path.iterdir()) == []  # neither the dataset nor a scratch folder
