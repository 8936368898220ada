"""IDD polygons -> level-3 id images, against hand-built expectations and AutoNUE's own class list.

Drawing rules being checked (AutoNUE/public-code ``preperation/json2labelImg.py``,
``createLabelImage(annotation, "level3Id")``): background = level3Id of 'unlabeled' = 255;
objects in file order, later over earlier; ``deleted`` objects skipped before the label lookup;
an unknown label ending in 'group' is looked up without the suffix; polygons are filled with no
outline, and Pillow's fill covers the closed polygon, so a rectangle with integer corners
(x0, y0)-(x1, y1) covers ``[y0:y1 + 1, x0:x1 + 1]`` (both ends included).

The level-3 ids in the expected images are literals read off ``helpers/anue_labels.py``
(road 0, autorickshaw 8, car 9, sky 25, ego vehicle 255), not taken from the module.
"""

import json

import numpy as np
import pytest
from PIL import Image

from segrel.core import formats
from segrel.core import labels as lb
from segrel.data import idd

W, H = 20, 12


def rect(label, x0, y0, x1, y1, **extra):
    return {"label": label, "polygon": [[x0, y0], [x1, y0], [x1, y1], [x0, y1]], **extra}


def annotation(*objects, width=W, height=H):
    return {"imgHeight": height, "imgWidth": width, "objects": list(objects)}


def test_rectangles_overlaps_and_boundaries():
    ann = annotation(
        rect("road", 0, 6, 19, 11),
        rect("sky", 0, 0, 19, 3),
        rect("car", 3, 4, 9, 8),  # over the road
        # A later, non-convex L over car, road and sky: [x 7..14, y 2..5] + [x 7..9, y 2..9].
        {"label": "autorickshaw", "polygon": [[7, 2], [14, 2], [14, 5], [9, 5], [9, 9], [7, 9]]},
        rect("cargroup", 16, 0, 18, 1),  # 'group' dropped -> car
        rect("ego vehicle", 0, 11, 19, 11),  # void label: paints 255 over the road
    )
    expected = np.full((H, W), 255, np.uint8)  # nothing drawn: unlabeled
    expected[6:12, 0:20] = 0
    expected[0:4, 0:20] = 25
    expected[4:9, 3:10] = 9
    expected[2:6, 7:15] = 8
    expected[2:10, 7:10] = 8
    expected[0:2, 16:19] = 9
    expected[11:12, 0:20] = 255
    got = idd.render_level3_ids(ann)
    assert got.dtype == np.uint8 and got.shape == (H, W)
    np.testing.assert_array_equal(got, expected)


def test_size_comes_from_the_json_and_untouched_pixels_are_unlabeled():
    got = idd.render_level3_ids(annotation(width=7, height=3))
    np.testing.assert_array_equal(got, np.full((3, 7), 255, np.uint8))


def test_deleted_objects_are_ignored():
    ann = annotation(
        rect("road", 0, 0, 19, 11),
        rect("car", 2, 2, 5, 5, deleted=1),
        rect("no such label", 0, 0, 3, 3, deleted=True),  # skipped before the label lookup
        rect("sky", 10, 1, 12, 2, deleted=0),  # deleted = 0: drawn
    )
    expected = np.zeros((H, W), np.uint8)
    expected[1:3, 10:13] = 25
    np.testing.assert_array_equal(idd.render_level3_ids(ann), expected)


@pytest.mark.parametrize("label", ["no such label", "foogroup", "group"])
def test_unknown_label_raises_naming_it(label):
    with pytest.raises(ValueError, match=label):
        idd.render_level3_ids(annotation(rect("road", 0, 0, 3, 3), rect(label, 1, 1, 2, 2)))


def test_table_group_labels():
    ann = annotation(rect("polegroup", 0, 0, 1, 1), rect("persongroup", 2, 0, 3, 1),
                     width=4, height=2)
    np.testing.assert_array_equal(idd.render_level3_ids(ann), [[20, 20, 4, 4], [20, 20, 4, 4]])


def test_undrawable_polygon_raises():
    with pytest.raises(ValueError, match="car"):
        idd.render_level3_ids(annotation({"label": "car", "polygon": [[1, 1]]}))


def _frame(root, split, seq, frame, ann):
    image = root / "leftImg8bit" / split / seq / f"{frame}_leftImg8bit.png"
    image.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.zeros((ann["imgHeight"], ann["imgWidth"], 3), np.uint8)).save(image)
    polygons = root / "gtFine" / split / seq / f"{frame}_gtFine_polygons.json"
    polygons.parent.mkdir(parents=True, exist_ok=True)
    polygons.write_text(json.dumps(ann))
    return polygons


def test_write_level3_labels_feeds_the_idd_loader(tmp_path):
    val = annotation(
        rect("road", 0, 6, 19, 11),
        rect("car", 1, 1, 4, 3),
        rect("autorickshaw", 10, 1, 14, 3),
    )
    _frame(tmp_path, "val", "201", "000123", val)
    _frame(tmp_path, "train", "0", "000007", annotation(rect("sky", 0, 0, 19, 11)))
    logged = []
    assert idd.write_level3_labels(tmp_path, log=logged.append) == 2
    assert logged

    (sample,) = formats.list_samples("idd", tmp_path, "val", "*")
    assert sample.label == tmp_path / "gtFine/val/201/000123_gtFine_labellevel3Ids.png"
    with Image.open(sample.label) as image:
        assert image.mode == "L" and image.size == (W, H)
    train_ids = formats.read_label("idd", sample.label)
    expected = np.full((H, W), 255, np.uint8)  # unlabeled and autorickshaw -> void
    expected[6:12, :] = 0  # road
    expected[1:4, 1:5] = 13  # car
    np.testing.assert_array_equal(train_ids, expected)
    level3 = formats.read_ids(sample.label)
    assert (level3[1:4, 10:15] == 8).all()  # autorickshaw kept as level-3 8 (local OOD)
    assert formats.local_ood_mask("idd", formats.read_ids(sample.label)).sum() == 5 * 3

    (train,) = formats.list_samples("idd", tmp_path, "train", "*")
    assert (formats.read_label("idd", train.label) == 10).all()  # sky

    # Rewrites in place, leaving nothing but the label images beside the JSONs.
    assert idd.write_level3_labels(tmp_path, log=logged.append) == 2
    assert sorted(p.name for p in (tmp_path / "gtFine").rglob("*") if p.is_file()) == [
        "000007_gtFine_labellevel3Ids.png", "000007_gtFine_polygons.json",
        "000123_gtFine_labellevel3Ids.png", "000123_gtFine_polygons.json",
    ]


def test_write_level3_labels_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="gtFine"):
        idd.write_level3_labels(tmp_path, log=lambda message: None)
    bad = _frame(tmp_path, "val", "3", "000001", annotation(rect("spaceship", 0, 0, 2, 2)))
    with pytest.raises(ValueError, match="spaceship") as err:
        idd.write_level3_labels(tmp_path, log=lambda message: None)
    assert str(bad) in str(err.value)
    assert [p.name for p in bad.parent.iterdir()] == [bad.name]  # no PNG, no temp file


# The 26 level-3 classes in id order as AutoNUE's own evaluation names them
# (AutoNUE/public-code evaluation/evaluate_mIoU.py @ 342f9ad2, ``class_names`` without 'misc').
AUTONUE_EVAL_CLASS_NAMES = [
    "road", "drivable fallback", "sidewalk", "non-drivable fallback", "person", "rider",
    "motorcycle", "bicycle", "autorickshaw", "car", "truck", "bus", "vehicle fallback", "curb",
    "wall", "fence", "guard rail", "billboard", "traffic sign", "traffic light", "pole",
    "obs-str-bar-fallback", "building", "bridge", "vegetation", "sky",
]


def test_level3_table_matches_segrel_labels():
    # anue_labels.py has 40 labels (ids 0..39); several map to one level-3 id (parking and
    # drivable fallback -> 1, ..., sky and fallback background -> 25), the void ones to 255.
    assert len(idd.LEVEL3_BY_NAME) == 40
    assert set(idd.LEVEL3_BY_NAME.values()) == set(range(26)) | {255}
    # segrel names each level-3 id after one member of its group, the one AutoNUE's evaluation
    # uses; so the name must be a label of the table with exactly that level-3 id.
    assert [lb.IDD_LEVEL3_NAMES[i] for i in range(26)] == AUTONUE_EVAL_CLASS_NAMES
    assert sorted(lb.IDD_LEVEL3_NAMES) == list(range(26))
    for level3, name in lb.IDD_LEVEL3_NAMES.items():
        assert idd.LEVEL3_BY_NAME[name] == level3, name
        assert lb.IDD_LEVEL3_IDS[name] == level3
    # Ids with a single member: that member is segrel's name.
    for level3 in range(26):
        members = [n for n, v in idd.LEVEL3_BY_NAME.items() if v == level3]
        if len(members) == 1:
            assert members == [lb.IDD_LEVEL3_NAMES[level3]]
    void = {n for n, v in idd.LEVEL3_BY_NAME.items() if v == 255}
    assert void == {"unlabeled", "ego vehicle", "rectification border", "out of roi", "license plate"}
