"""2D common corruptions (Hendrycks & Dietterich) through ``imagecorruptions`` (the maintained
``imagecorruptions-imaug`` fork), reproducible per (image, corruption, severity).

Images are RGB, as the corruptions were defined on (SemSegBench's code hands them mmcv's BGR
arrays, so its colour-dependent corruptions act on swapped channels; segrel does not). The
library draws from numpy's global generator, from scikit-image's (impulse noise) and from
numba's (glass blur): each is seeded here from one seed, and numpy's global state is restored
afterwards, so a corrupted image depends on its seed only, never on what ran before it or on
sharding.
"""

from __future__ import annotations

import zlib
from contextlib import contextmanager

import numpy as np

#: the 15 corruptions of ImageNet-C / Cityscapes-C (SemSegBench), then the 4 "extra" ones
COMMON_2D = ("gaussian_noise", "shot_noise", "impulse_noise", "defocus_blur", "glass_blur", "motion_blur",
             "zoom_blur", "snow", "frost", "fog", "brightness", "contrast", "elastic_transform", "pixelate",
             "jpeg_compression")
EXTRA_2D = ("speckle_noise", "gaussian_blur", "spatter", "saturate")
CORRUPTIONS_2D = COMMON_2D + EXTRA_2D
SEVERITIES = (1, 2, 3, 4, 5)
#: corruptions that take the seed as an argument (their generator is not numpy's global one)
_SEEDED_BY_ARGUMENT = ("impulse_noise", "glass_blur")


def corruption_seed(seed: int, image: str, name: str, severity: int) -> int:
    """The seed of one (image, corruption, severity), from the study's seed (32 bits, for
    numpy's legacy seeding).

    >>> corruption_seed(0, "frankfurt_000294", "fog", 3) == corruption_seed(0, "frankfurt_000294", "fog", 3)
    True
    """
    return zlib.crc32(f"{seed}/{image}/{name}/{severity}".encode())


def check_corruption(name: str, severity: int) -> None:
    """One error naming the known corruptions or severities."""
    if name not in CORRUPTIONS_2D:
        raise ValueError(f"unknown corruption {name!r}; known: {', '.join(CORRUPTIONS_2D)}")
    if severity not in SEVERITIES:
        raise ValueError(f"corruption severity must be one of 1-5, got {severity!r}")


@contextmanager
def _numpy_seeded(seed: int):
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def corrupt(image: np.ndarray, name: str, severity: int, seed: int, depth: np.ndarray | None = None) -> np.ndarray:
    """``image`` (H, W, 3) uint8 RGB with corruption ``name`` at ``severity`` (1-5), drawn from
    ``seed`` (:func:`corruption_seed`); same shape and dtype out. ``depth`` (metres) is for the
    3D corruptions, which are not implemented yet: a 2D corruption ignores it."""
    import imagecorruptions

    check_corruption(name, severity)
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"corrupt() takes an (H, W, 3) uint8 RGB image, got {image.dtype} {image.shape}")
    kwargs = {"seed": seed} if name in _SEEDED_BY_ARGUMENT else {}
    with _numpy_seeded(seed):
        return imagecorruptions.corrupt(image, severity=severity, corruption_name=name, **kwargs)
