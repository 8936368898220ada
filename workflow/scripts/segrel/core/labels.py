"""Label spaces: Cityscapes (from cityscapesScripts' own table), IDD level-3, SMIYC anomaly masks.

Every dataset segrel reads is evaluated in the 19-class Cityscapes train-id space (255 = void).
The Cityscapes ids come from ``cityscapesscripts.helpers.labels`` rather than being retyped, so
the demo data and the real data agree by construction.
"""

from __future__ import annotations

import numpy as np
from cityscapesscripts.helpers.labels import id2label, labels, name2label

VOID = 255
NUM_CLASSES = 19

#: The 19 evaluated classes, in train-id order.
CLASS_NAMES: tuple[str, ...] = tuple(
    label.name
    for label in sorted(
        (lb for lb in labels if 0 <= lb.trainId < VOID), key=lambda lb: lb.trainId
    )
)

def train_ids(names) -> list[int]:
    """Train ids of evaluated class names.

    >>> train_ids(["terrain", "train"])
    [9, 16]
    """
    unknown = [name for name in names if name not in CLASS_NAMES]
    if unknown:
        raise ValueError(f"unknown class name(s) {', '.join(map(repr, unknown))}; "
                         f"the classes: {', '.join(CLASS_NAMES)}")
    return [CLASS_NAMES.index(name) for name in names]


#: Cityscapes classes that have instances (``instanceIds`` = id * 1000 + k for them).
INSTANCE_CLASS_IDS = frozenset(lb.id for lb in labels if lb.hasInstances and lb.id >= 0)


def _lookup_table(pairs: dict[int, int]) -> np.ndarray:
    table = np.full(256, VOID, dtype=np.uint8)
    for source, target in pairs.items():
        table[source] = target
    return table


#: the ids a Cityscapes / ACDC labelIds image holds (license plate, id -1, is not drawn)
CITYSCAPES_LABEL_IDS = tuple(sorted(lb.id for lb in labels if lb.id >= 0))

#: labelIds (0..33) -> train ids (0..18, 255). Built from cityscapesScripts' table.
CITYSCAPES_ID_TO_TRAINID = _lookup_table(
    {lb.id: (lb.trainId if 0 <= lb.trainId < VOID else VOID) for lb in labels if lb.id >= 0}
)

#: train id -> RGB colour of the Cityscapes palette (void = black).
TRAINID_COLORS = np.zeros((256, 3), dtype=np.uint8)
for _name in CLASS_NAMES:
    TRAINID_COLORS[name2label[_name].trainId] = name2label[_name].color

#: labelIds -> RGB colour, as in ``*_gtFine_color.png``.
ID_COLORS = np.zeros((256, 3), dtype=np.uint8)
for _id, _label in id2label.items():
    if _id >= 0:
        ID_COLORS[_id] = _label.color


# IDD level-3 ids (AutoNUE ``anue_labels.py``, column level3Id). Only the level-3 -> Cityscapes
# mapping matters to segrel; names are kept for readable errors and the demo generator.
IDD_LEVEL3_NAMES: dict[int, str] = {
    0: "road",
    1: "drivable fallback",
    2: "sidewalk",
    3: "non-drivable fallback",
    4: "person",
    5: "rider",
    6: "motorcycle",
    7: "bicycle",
    8: "autorickshaw",
    9: "car",
    10: "truck",
    11: "bus",
    12: "vehicle fallback",
    13: "curb",
    14: "wall",
    15: "fence",
    16: "guard rail",
    17: "billboard",
    18: "traffic sign",
    19: "traffic light",
    20: "pole",
    21: "obs-str-bar-fallback",
    22: "building",
    23: "bridge",
    24: "vegetation",
    25: "sky",
}
IDD_LEVEL3_IDS = {name: level3 for level3, name in IDD_LEVEL3_NAMES.items()}

# IDD has no terrain nor train class: RELIS averages IDD mIoU over the other 17 classes.
IDD_LEVEL3_TO_TRAINID = _lookup_table(
    {
        IDD_LEVEL3_IDS[name]: name2label[name].trainId
        for name in CLASS_NAMES
        if name in IDD_LEVEL3_IDS
    }
)

#: IDD classes that Cityscapes lacks: void for mIoU, positives for local OOD detection.
IDD_LOCAL_OOD_NAMES = (
    "autorickshaw",
    "vehicle fallback",
    "guard rail",
    "billboard",
    "obs-str-bar-fallback",
    "bridge",
)
IDD_LOCAL_OOD_LEVEL3 = tuple(IDD_LEVEL3_IDS[name] for name in IDD_LOCAL_OOD_NAMES)

# SMIYC RoadAnomaly21 ``*_labels_semantic.png`` values.
ANOMALY_NOT = 0
ANOMALY_YES = 1
ANOMALY_VOID = 255
ANOMALY_VALUES = (ANOMALY_NOT, ANOMALY_YES, ANOMALY_VOID)


def to_train_ids(label_map: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Map a uint8 label image through a 256-entry lookup table."""
    return table[label_map]

#: COCO 2017's 80 detection categories, {category id: name}, in the annotation files' order (ids
#: 1-90 without the 10 that were dropped from the released annotations; the names as mmdet's
#: CocoDataset lists them, which maps them to label indices 0-79 by name)
COCO_CATEGORIES = dict(zip(
    [i for i in range(1, 91) if i not in (12, 26, 29, 30, 45, 66, 68, 69, 71, 83)],
    ("person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
     "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep", "cow",
     "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella", "handbag", "tie", "suitcase", "frisbee", "skis",
     "snowboard", "sports ball", "kite", "baseball bat", "baseball glove", "skateboard", "surfboard",
     "tennis racket", "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich",
     "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant", "bed",
     "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone", "microwave", "oven",
     "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors", "teddy bear", "hair drier",
     "toothbrush"), strict=True))
