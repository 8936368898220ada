"""Common corruptions, reproducible per (image, corruption, severity): the 2D ones (Hendrycks &
Dietterich) through ``imagecorruptions`` (the maintained ``imagecorruptions-imaug`` fork), the 3D
ones of 3DCC in :mod:`segrel.stress.corruptions3d`.

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

from segrel.stress.catalogue import CORRUPTIONS_3D, PHYSICS, SCENARIOS, check_corruption
from segrel.stress.corruptions3d import corrupt_3d

#: corruptions that take the seed as an argument (their generator is not numpy's global one)
_SEEDED_BY_ARGUMENT = ("impulse_noise", "glass_blur")


def corruption_seed(seed: int, image: str, name: str, severity: int) -> int:
    """The seed of one (image, corruption, severity), from the study's seed (32 bits, for
    numpy's legacy seeding).

    >>> corruption_seed(0, "frankfurt_000294", "fog", 3) == corruption_seed(0, "frankfurt_000294", "fog", 3)
    True
    """
    return zlib.crc32(f"{seed}/{image}/{name}/{severity}".encode())


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
    ``seed`` (:func:`corruption_seed`); same shape and dtype out. ``depth`` ((H, W), metres) is
    what near_focus, far_focus and fog_3d need; the others ignore it."""
    check_corruption(name, severity)
    if name in PHYSICS + SCENARIOS:
        raise ValueError(f"{name} needs the image's labels (and depth): segrel.stress.testsets.stressed_image, "
                         "not corrupt()")
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"corrupt() takes an (H, W, 3) uint8 RGB image, got {image.dtype} {image.shape}")
    if name in CORRUPTIONS_3D:
        return corrupt_3d(image, name, severity, seed, depth)
    import imagecorruptions

    kwargs = {"seed": seed} if name in _SEEDED_BY_ARGUMENT else {}
    with _numpy_seeded(seed):
        return imagecorruptions.corrupt(image, severity=severity, corruption_name=name, **kwargs)
