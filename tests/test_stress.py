"""The stress stage's first pieces against independent references: imagecorruptions itself
(seeded as segrel seeds it), hand-computed GAM and S_robust."""

import random

import imagecorruptions
import numpy as np
import pytest

from segrel.stress import corrupt, gam, s_robust
from segrel.stress.corruptions import CORRUPTIONS_2D, corruption_seed


@pytest.fixture(scope="module")
def image():
    rng = np.random.default_rng(0)
    return (rng.random((64, 96, 3)) * 255).astype(np.uint8)


@pytest.mark.parametrize("name", CORRUPTIONS_2D)
def test_every_2d_corruption_is_reproducible_and_is_imagecorruptions(image, name):
    seed = corruption_seed(0, "img", name, 3)
    np.random.seed(123)
    random.seed(123)
    before = np.random.get_state()[1].copy()
    first = corrupt(image, name, 3, seed)
    assert np.array_equal(np.random.get_state()[1], before)  # numpy's global state untouched
    np.random.rand(5)  # whatever ran in between
    assert np.array_equal(corrupt(image, name, 3, seed), first)
    assert first.shape == image.shape and first.dtype == np.uint8
    # the library's own result under the same seeds
    np.random.seed(seed)
    kwargs = {"seed": seed} if name in ("impulse_noise", "glass_blur") else {}
    assert np.array_equal(imagecorruptions.corrupt(image, severity=3, corruption_name=name, **kwargs), first)


def test_seeds_differ_per_image_and_severity(image):
    assert corruption_seed(0, "a", "fog", 3) != corruption_seed(0, "b", "fog", 3)
    assert corruption_seed(0, "a", "fog", 3) != corruption_seed(0, "a", "fog", 4)
    noisy = [corrupt(image, "gaussian_noise", 2, seed) for seed in (1, 2)]
    assert not np.array_equal(*noisy)


def test_bad_corruptions_are_refused(image):
    with pytest.raises(ValueError, match="unknown corruption 'rain'; known: gaussian_noise, shot_noise"):
        corrupt(image, "rain", 3, 0)
    with pytest.raises(ValueError, match="severity must be one of 1-5, got 6"):
        corrupt(image, "fog", 6, 0)
    with pytest.raises(ValueError, match=r"\(H, W, 3\) uint8 RGB image, got float64"):
        corrupt(image.astype(float), "fog", 3, 0)


def test_gam_and_s_robust_by_hand():
    assert gam({"fog": 0.61, "snow": 0.42}) == 0.42
    assert gam([0.3]) == 0.3
    # mu 0.8; C = 0.6, 0.8 -> var_cross (0.04 + 0) / 2 = 0.02; C' = 0.7, 0.9 -> (0.01 + 0.01) / 2 = 0.01
    assert s_robust({"blur": 0.6, "grey": 0.8}, {"blur": 0.7, "grey": 0.9}, 0.8) == pytest.approx(0.97)
    assert s_robust([0.8], [0.8], 0.8) == 1.0
    with pytest.raises(ValueError, match=r"fractions in \[0, 1\], got \[61.0\]"):
        gam([61.0])
    with pytest.raises(ValueError, match="no value"):
        s_robust([], [0.5], 0.5)
