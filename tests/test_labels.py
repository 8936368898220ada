"""Label tables against cityscapesScripts' own table and the published IDD mapping."""

import numpy as np
from cityscapesscripts.helpers.labels import labels as cs_labels

from segrel.core import labels as lb


def test_cityscapes_train_ids_match_cityscapesscripts():
    for label in cs_labels:
        if label.id < 0:  # license plate has id -1 and is never in an id image
            continue
        expected = label.trainId if 0 <= label.trainId < 255 else 255
        assert lb.CITYSCAPES_ID_TO_TRAINID[label.id] == expected, label.name


def test_nineteen_classes_in_the_cityscapes_order():
    assert lb.CLASS_NAMES[:3] == ("road", "sidewalk", "building")
    assert lb.CLASS_NAMES[-3:] == ("train", "motorcycle", "bicycle")
    assert len(lb.CLASS_NAMES) == lb.NUM_CLASSES == 19


def test_idd_level3_mapping_hand_checked():
    table = lb.IDD_LEVEL3_TO_TRAINID
    # (level-3 id, expected Cityscapes train id) from AutoNUE's anue_labels.py + CS trainIds
    expected = {0: 0, 2: 1, 4: 11, 5: 12, 6: 17, 7: 18, 9: 13, 10: 14, 11: 15, 14: 3, 15: 4,
                18: 7, 19: 6, 20: 5, 22: 2, 24: 8, 25: 10}
    for level3, train_id in expected.items():
        assert table[level3] == train_id, lb.IDD_LEVEL3_NAMES[level3]
    for level3 in (1, 3, 8, 12, 13, 16, 17, 21, 23, 255):
        assert table[level3] == 255, level3
    # RELIS: no IDD class maps to terrain (9) or train (16) -> IDD mIoU over 17 classes.
    mapped = set(np.unique(table)) - {255}
    assert mapped == set(range(19)) - {9, 16}


def test_idd_local_ood_classes_are_void_for_miou():
    assert all(lb.IDD_LEVEL3_TO_TRAINID[level3] == 255 for level3 in lb.IDD_LOCAL_OOD_LEVEL3)
