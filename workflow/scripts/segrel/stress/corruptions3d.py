"""3D common corruptions (Kar et al. 2022, EPFL-VILAB/3DCommonCorruptions ``create_3dcc/``) of RGB
images with depth, and the three RGB-only ones of the same paper.

As 3DCC computes them (``create_dof.py``, ``create_fog.py``, ``create_non3d.py``), on [0, 1]
images, with their uint8 conversion (truncation, as torchvision's ``ToPILImage`` and
``np.uint8`` do), with two deliberate differences:

- fog_3d's airlight is the mean of *this* image, not of the whole batch (3DCC's
  ``rgb.mean()`` over a batch makes an image depend on what it is batched with);
- noise is drawn from a generator seeded per (image, corruption, severity), not from numpy's
  global one.

Depth is in metres; invalid pixels (0, NaN, inf: Cityscapes' sky has no disparity) take the
largest valid depth, as 3DCC does with Taskonomy's saturated depth. Near / far focus depend only
on depth ratios and fog_3d scales depth to [0, 1] by the image's largest depth, so relative
depth (a monocular estimator's) gives the same images as metric depth.
"""

from __future__ import annotations

import cv2
import numpy as np

from segrel.stress.catalogue import RGB_3D

_FOCUS_QUANTILES = 8  # 3DCC splits depth into 8 quantile bands and blurs each by its own radius
_QUANTILE_EPS = 1e-4
_FOG_ALPHA = (4, 8, 12, 16, 20)


def valid_depth(depth: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """``depth`` as float64 with invalid pixels set to the largest valid depth; one error for a
    depth map of another size or with no valid pixel."""
    depth = np.asarray(depth, dtype=np.float64)
    if depth.shape != shape:
        raise ValueError(f"depth map of shape {depth.shape} for an image of {shape}: they must be the same size")
    valid = np.isfinite(depth) & (depth > 0)
    if not valid.any():
        raise ValueError("the depth map has no valid (finite, positive) pixel")
    return np.where(valid, depth, depth[valid].max())


def _to_uint8(image: np.ndarray) -> np.ndarray:
    return (np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)  # truncation, as ToPILImage


# Far focus on a street scene blurs the near bands by radii of hundreds of pixels (depth ratios
# of ~100 against 3DCC's indoor ~10): a direct convolution costs 2 x taps multiply-adds per pixel
# (103 s of a 1024x2048 image), one matrix product per axis (H + W), whatever the radius.


def _blur_matrix(length: int, kernel: np.ndarray) -> np.ndarray:
    """(length, length) matrix of a 1D convolution with ``kernel`` (odd taps) over replicated
    borders: the taps that fall outside the signal are added to its first / last sample."""
    half = len(kernel) // 2
    rows = np.repeat(np.arange(length), len(kernel))
    columns = np.clip(rows + np.tile(np.arange(-half, half + 1), length), 0, length - 1)
    weights = np.tile(kernel, length)
    return np.bincount(rows * length + columns, weights, minlength=length * length).reshape(length, length)


def _gaussian_blur(image: np.ndarray, radius: float) -> np.ndarray:
    """3DCC's ``separable_gaussian`` with its cutoff multiplier 3: a normalised Gaussian of std
    ``radius`` on int(3 r) taps (made odd), replicated borders; below r = 0.1, none."""
    if radius < 0.1:
        return image
    taps = int(radius * 3)
    taps += 1 - taps % 2
    if taps == 1:
        return image
    height, width, channels = image.shape
    if 2 * taps <= height + width:
        return cv2.GaussianBlur(image, (taps, taps), sigmaX=radius, sigmaY=radius, borderType=cv2.BORDER_REPLICATE)
    kernel = cv2.getGaussianKernel(taps, radius, ktype=cv2.CV_64F)[:, 0]
    vertical = _blur_matrix(height, kernel).astype(image.dtype) @ image.reshape(height, -1)
    columns = vertical.reshape(height, width, channels).transpose(1, 0, 2).reshape(width, -1)
    blurred = _blur_matrix(width, kernel).astype(image.dtype) @ columns
    return blurred.reshape(width, height, channels).transpose(1, 0, 2)


def refocus(image: np.ndarray, depth: np.ndarray, severity: int, far: bool) -> np.ndarray:
    """Near (focus on the nearest depth) or far (the 7/8 depth quantile) focus: the circle of
    confusion a |d - d_f| / d at each quantile's depth, the image blurred by each, and each pixel
    blended between the blurs of the two quantiles around its depth (weights 1 - distance²)."""
    quantiles = np.quantile(depth, np.arange(_FOCUS_QUANTILES + 1) / _FOCUS_QUANTILES)
    quantiles[0] -= _QUANTILE_EPS
    quantiles[-1] += _QUANTILE_EPS
    aperture = severity + 2.0 - (1.5 if far else 0.0)
    focus = quantiles[_FOCUS_QUANTILES - 1 if far else 0]
    radii = aperture * np.abs(quantiles - focus) / quantiles
    right = np.searchsorted(quantiles, depth, side="left")
    left = right - 1
    span = quantiles[right] - quantiles[left]
    weight_left = 1 - ((depth - quantiles[left]) / span) ** 2
    weight_right = 1 - ((quantiles[right] - depth) / span) ** 2
    total = weight_left + weight_right
    out = np.zeros_like(image)
    for band, radius in enumerate(radii):
        weight = np.where(left == band, weight_left, 0.0) + np.where(right == band, weight_right, 0.0)
        if weight.any():
            out += (weight / total)[..., None] * _gaussian_blur(image, float(radius))
    return out


def fog_3d(image: np.ndarray, depth: np.ndarray, severity: int) -> np.ndarray:
    """t = exp(-alpha d / max d), alpha = 4, 8, ..., 20; airlight = the image's mean."""
    transmission = np.exp(-_FOG_ALPHA[severity - 1] * depth / depth.max())[..., None]
    return transmission * image + image.mean() * (1 - transmission)


def _poisson_gaussian(image: np.ndarray, photons: float, sigma: float, rng: np.random.Generator) -> np.ndarray:
    image = np.clip(rng.poisson(image * photons) / photons, 0, 1)
    return np.clip(image + rng.normal(scale=sigma, size=image.shape), 0, 1)


def iso_noise(image: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """Photon noise at 25 photons (ISO does not change it) plus electronic noise that grows with ISO."""
    return _poisson_gaussian(image, 25, 0.7 * (0.08, 0.12, 0.18, 0.26, 0.38)[severity - 1], rng)


def low_light(image: np.ndarray, severity: int, rng: np.random.Generator) -> np.ndarray:
    """MATLAB's imadjust from [min, max] to [0, c] with gamma 2, then 3DCC's Poisson-Gaussian
    noise at its severity 3 (120 photons, sigma 0.018) whatever the severity."""
    low, high = image.min(), image.max()
    stretched = ((image - low) / (high - low if high > low else 1.0)) ** 2 * (0.6, 0.5, 0.4, 0.3, 0.2)[severity - 1]
    # 3DCC hands the noise an image scaled to 0-255 and back, with no rounding in between
    return _poisson_gaussian(stretched, 10 * 12, 0.1 * 0.18, rng)


def color_quant(image8: np.ndarray, severity: int) -> np.ndarray:
    """PIL's posterize to 6 - severity bits: the low bits of every channel cleared."""
    return image8 & np.uint8((0xFF << (8 - (6 - severity))) & 0xFF)


def corrupt_3d(image8: np.ndarray, name: str, severity: int, seed: int, depth: np.ndarray | None) -> np.ndarray:
    """One of 3DCC's corruptions (:data:`segrel.stress.catalogue.CORRUPTIONS_3D`) on an (H, W, 3)
    uint8 RGB image (``depth`` in metres for those of ``DEPTH_3D``); uint8 out."""
    if name == "color_quant":
        return color_quant(image8, severity)
    image = image8.astype(np.float64) / 255.0
    if name in RGB_3D:
        rng = np.random.default_rng(seed)
        return _to_uint8((iso_noise if name == "iso_noise" else low_light)(image, severity, rng))
    if depth is None:
        raise ValueError(f"corruption {name!r} needs the image's depth (depth=..., in metres)")
    depth = valid_depth(depth, image.shape[:2])
    if name == "fog_3d":
        return _to_uint8(fog_3d(image, depth, severity))
    return _to_uint8(refocus(image.astype(np.float32), depth, severity, far=name == "far_focus"))
