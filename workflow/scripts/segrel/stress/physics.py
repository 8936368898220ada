"""Physics-based proxies (Loiseau et al. Table 1's "physics-based fog simulator") rendered on real
images from their depth and labels, by the code that renders the demo's fog and rain
(:mod:`segrel.data.demo.weather`): Koschmieder's law on linear radiance, and the demo's rain.

- physics_fog: as Foggy Cityscapes (Sakaridis et al. 2018), ``I = J t + A (1 - t)`` with
  ``t = exp(-beta d)`` along each pixel's ray; beta = 3 / visibility for visibilities 600, 300,
  150 (Foggy Cityscapes' three), 75 and 40 m; the airlight A is this image's own, the mean linear
  colour of the 0.1% brightest pixels of its dark channel (He et al. 2009). The sky (no depth) is
  airlight. Foggy Cityscapes' guided filtering of the transmission is not reproduced.
- physics_rain: overcast dimming, haze, wet darker ground with puddles mirroring the sky's colour
  and rain streaks (the demo renderer's), intensity 0.2-1.0 and light 0.9-0.5 of the clear
  image's by severity. Ground and sky come from the image's labels.

Night is not here: the demo's night lights the scene from its light sources, which a real image
does not come with (3DCC's low_light is the image-only night proxy).
"""

from __future__ import annotations

import numpy as np

from segrel.core import labels as lb
from segrel.data.demo.weather import encode_srgb8, koschmieder, rain, srgb_to_linear, to_srgb8
from segrel.stress.depth import Depth

PHYSICS = ("physics_fog", "physics_rain")
_VISIBILITY_M = (600.0, 300.0, 150.0, 75.0, 40.0)
_GROUND = lb.train_ids(["road", "sidewalk", "terrain"])
_SKY = lb.train_ids(["sky"])


def dark_channel_airlight(radiance: np.ndarray, patch: int = 15, fraction: float = 0.001) -> np.ndarray:
    """He et al.'s airlight: the mean colour of the ``fraction`` brightest pixels of the dark
    channel (the minimum over the channels and a ``patch`` x ``patch`` window)."""
    import cv2

    dark = cv2.erode(radiance.min(axis=-1), np.ones((patch, patch), np.uint8))
    count = max(1, int(round(dark.size * fraction)))
    brightest = np.argsort(dark, axis=None, kind="stable")[-count:]
    return radiance.reshape(-1, 3)[brightest].mean(axis=0)


def physics_fog(image8: np.ndarray, depth: Depth, severity: int) -> np.ndarray:
    radiance = srgb_to_linear(image8)
    beta = 3.0 / _VISIBILITY_M[severity - 1]
    return encode_srgb8(koschmieder(radiance, depth.distance(), beta, dark_channel_airlight(radiance)))


def physics_rain(image8: np.ndarray, depth: Depth, train_ids: np.ndarray, severity: int,
                 rng: np.random.Generator) -> np.ndarray:
    radiance = srgb_to_linear(image8) * (1.0 - 0.1 * severity)
    intensity = 0.2 * severity
    sky = np.isin(train_ids, _SKY)
    airlight = np.median(radiance[sky], axis=0) if sky.any() else np.full(3, 0.6, np.float32)
    radiance = koschmieder(radiance, depth.distance(), 0.01 * intensity, airlight).astype(np.float32)
    radiance = rain(radiance, np.isin(train_ids, _GROUND), sky, rng, intensity)
    return to_srgb8(radiance, rng, noise=0.012, blur=0.9)
