"""XImageNet-12's background scenarios, adapted to segmentation with the ground-truth masks: the
objects are the pixels of Cityscapes' thing classes (person, rider, car, truck, bus, train,
motorcycle, bicycle), the rest is background.

- blurred_background / blurred_objects: a Gaussian blur (std 1% of the image width: 20 px at
  2048) of the background / the objects only;
- grey: the image in grey (ITU-R BT.601 luma), objects and background alike;
- colour_shift: the colour channels rotated (R, G, B -> G, B, R);
- random_background: another image of the same test set (drawn from the image's seed) behind
  this image's objects; its labels too, so the scene stays labelled;
- segmented_objects: the objects on black, the background void (only objects are scored);
- ai_background: the background repainted by the generation stage's inpainting model
  (:mod:`segrel.stress.backgrounds`), the objects kept; the new background has no labels, so it
  is void as in segmented_objects.

A scenario changes the image and, for the last three, the stored label ids (written back in the
format's own ids, so the copy reads like the source).
"""

from __future__ import annotations

import cv2
import numpy as np

from segrel.core import labels as lb
from segrel.stress.catalogue import SCENARIOS

THING_CLASSES = ("person", "rider", "car", "truck", "bus", "train", "motorcycle", "bicycle")
THING_TRAIN_IDS = tuple(lb.train_ids(THING_CLASSES))
_BLUR_FRACTION = 0.01
_LUMA = np.array([0.299, 0.587, 0.114])


def objects_mask(train_ids: np.ndarray) -> np.ndarray:
    """True on the pixels of thing classes."""
    return np.isin(train_ids, THING_TRAIN_IDS)


def _blur(image: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(image, (0, 0), sigmaX=_BLUR_FRACTION * image.shape[1], borderType=cv2.BORDER_REFLECT)


def apply_scenario(name: str, image: np.ndarray, train_ids: np.ndarray, stored_ids: np.ndarray, *,
                   void_id: int, other: tuple[np.ndarray, np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(image, stored ids) of ``image`` (uint8 RGB) under scenario ``name``; ``train_ids`` tells the
    objects, ``stored_ids`` are the label file's ids, ``void_id`` the format's stored void id and
    ``other`` (image, stored ids) the background random_background (another image of the set) and
    ai_background (the painted image, ids None: unlabelled, void) put behind the objects."""
    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; known: {', '.join(SCENARIOS)}")
    objects = objects_mask(train_ids)[..., None]
    if name == "blurred_background":
        return np.where(objects, image, _blur(image)), stored_ids
    if name == "blurred_objects":
        return np.where(objects, _blur(image), image), stored_ids
    if name == "grey":
        grey = np.clip(np.round(image @ _LUMA), 0, 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, axis=-1), stored_ids
    if name == "colour_shift":
        return image[..., [1, 2, 0]].copy(), stored_ids
    if name == "segmented_objects":
        return np.where(objects, image, 0).astype(np.uint8), np.where(objects[..., 0], stored_ids, void_id).astype(
            stored_ids.dtype)
    if other is None:
        raise ValueError(f"{name} needs the background to put behind the objects (other=(image, stored ids))")
    other_image, other_ids = other
    if other_ids is None:  # a painted background: nothing in it is labelled
        other_ids = np.full_like(stored_ids, void_id)
    if other_image.shape != image.shape:  # e.g. IDD's mixed resolutions: the other image is fitted to this one
        height, width = image.shape[:2]
        other_image = cv2.resize(other_image, (width, height), interpolation=cv2.INTER_LINEAR)
        other_ids = cv2.resize(other_ids, (width, height), interpolation=cv2.INTER_NEAREST)
    return (np.where(objects, image, other_image).astype(np.uint8),
            np.where(objects[..., 0], stored_ids, other_ids).astype(stored_ids.dtype))
