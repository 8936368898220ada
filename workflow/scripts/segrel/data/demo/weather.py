"""Render a :class:`~segrel.data.demo.scenes.Scene` in clear weather, fog, rain, snow or at night.

All effects work on linear radiance and use the scene's depth and world coordinates:

- fog: Koschmieder's law ``I = J t + A (1 - t)``, ``t = exp(-beta d)`` with ``d`` the ray length
  (as in Foggy Cityscapes, Sakaridis et al. 2018); visibility ``3 / beta`` between 40 and 200 m.
- night: ambient light drops by two orders of magnitude; street lamps, head/tail lights and lit
  windows light the scene with inverse-square fall-off in world space, plus bloom and the
  sensor noise of a long exposure.
- rain: overcast dimming, wet darker road with puddles that mirror the sky, light haze and
  motion-blurred rain streaks whose length and density follow a random depth.
- snow: snow cover on upward-facing surfaces (ground, tree tops), whitish haze and flakes whose
  size shrinks with their depth.

Each condition draws its intensity per image, like the spread of conditions in ACDC.
"""

from __future__ import annotations

import cv2
import numpy as np

from segrel.data.demo.canvas import class_id, smooth_noise
from segrel.data.demo.scenes import Scene

CONDITIONS = ("clear", "fog", "rain", "snow", "night")

_GROUND = ("road", "sidewalk", "terrain", "parking", "drivable fallback", "curb")


def _ground_mask(scene: Scene) -> np.ndarray:
    return np.isin(scene.labels, [class_id(name) for name in _GROUND])


def _sky_mask(scene: Scene) -> np.ndarray:
    return scene.labels == class_id("sky")


def shade(scene: Scene, haze: float, sun: float = 1.0) -> np.ndarray:
    """Daylight radiance: albedo under sky + sun light, with a light depth haze."""
    radiance = scene.albedo * sun
    # Surfaces facing up get a little more sky light than vertical ones.
    radiance[_ground_mask(scene)] *= 1.05
    sky = _sky_mask(scene)
    airlight = np.median(scene.albedo[sky], axis=0) if sky.any() else np.array([0.8, 0.85, 0.9])
    radiance = koschmieder(radiance, scene.distance(), haze, airlight)
    radiance[sky] = scene.albedo[sky] * sun
    return radiance.astype(np.float32)


def koschmieder(radiance: np.ndarray, distance: np.ndarray, beta: float, airlight) -> np.ndarray:
    """Koschmieder's law on linear radiance: ``J t + A (1 - t)``, ``t = exp(-beta d)`` (``d`` in
    metres along the ray; infinite for the sky, which becomes the airlight)."""
    t = np.exp(-beta * distance)[..., None]
    return radiance * t + np.asarray(airlight)[None, None, :] * (1.0 - t)


def srgb_to_linear(image8: np.ndarray) -> np.ndarray:
    """The inverse of :func:`encode_srgb8`: linear radiance in [0, 1] (float32)."""
    srgb = image8.astype(np.float32) / 255.0
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4).astype(np.float32)


def encode_srgb8(radiance: np.ndarray) -> np.ndarray:
    """sRGB transfer curve, 8 bits (radiance clipped to [0, 1])."""
    img = np.clip(radiance, 0.0, 1.0)
    srgb = np.where(img <= 0.0031308, 12.92 * img, 1.055 * np.power(img, 1 / 2.4) - 0.055)
    return np.round(srgb * 255.0).astype(np.uint8)


def to_srgb8(radiance: np.ndarray, rng: np.random.Generator, noise: float = 0.01, blur: float = 0.6) -> np.ndarray:
    """Camera: slight optical blur, sensor noise, sRGB transfer curve, 8 bits."""
    img = cv2.GaussianBlur(radiance, (0, 0), blur) if blur > 0 else radiance
    return encode_srgb8(img + rng.normal(0.0, noise, img.shape).astype(np.float32))


def render_clear(scene: Scene, rng: np.random.Generator, haze: float) -> np.ndarray:
    return to_srgb8(shade(scene, haze), rng)


def render_fog(scene: Scene, rng: np.random.Generator, haze: float) -> np.ndarray:
    visibility = rng.uniform(40.0, 200.0)
    beta = 3.0 / visibility
    radiance = shade(scene, haze, sun=0.8)
    airlight = rng.uniform(0.70, 0.85) * np.array([0.97, 1.0, 1.02], np.float32)
    radiance = koschmieder(radiance, np.minimum(scene.distance(), 1e3), beta, airlight)
    return to_srgb8(radiance, rng, noise=0.008, blur=0.8)


def _streaks(rng, shape, count, length, angle_deg, thickness=1):
    h, w = shape
    layer = np.zeros((h, w), np.float32)
    xs = rng.uniform(-0.1 * w, 1.1 * w, count)
    ys = rng.uniform(-0.1 * h, 1.1 * h, count)
    lengths = length * rng.uniform(0.5, 1.5, count)
    angle = np.deg2rad(angle_deg + rng.normal(0, 3, count))
    for x, y, ln, a in zip(xs, ys, lengths, angle):
        x1, y1 = x + ln * np.cos(a), y + ln * np.sin(a)
        cv2.line(layer, (int(x), int(y)), (int(x1), int(y1)), float(rng.uniform(0.3, 1.0)), thickness, cv2.LINE_AA)
    return cv2.GaussianBlur(layer, (0, 0), 0.7)


def render_rain(scene: Scene, rng: np.random.Generator, haze: float) -> np.ndarray:
    intensity = rng.uniform(0.3, 1.0)
    radiance = shade(scene, haze + 0.01 * intensity, sun=rng.uniform(0.45, 0.7))
    radiance = rain(radiance, _ground_mask(scene), _sky_mask(scene), rng, intensity)
    return to_srgb8(radiance, rng, noise=0.012, blur=0.9)


def rain(radiance: np.ndarray, ground: np.ndarray, sky: np.ndarray, rng: np.random.Generator,
         intensity: float) -> np.ndarray:
    """Rain on overcast linear radiance: washed-out colours, wet darker ``ground`` with puddles
    that mirror the ``sky``'s colour, streaks as dense as ``intensity`` (0-1)."""
    h, w = ground.shape
    grey = radiance.mean(axis=-1, keepdims=True)
    radiance = radiance * 0.6 + grey * 0.4  # overcast light washes colours out
    radiance[ground] *= 0.7  # wet surfaces are darker
    sky_color = radiance[sky].mean(axis=0) if sky.any() else np.full(3, 0.6, np.float32)
    puddles = ground & (smooth_noise(rng, (h, w), 30) > 0.6)
    radiance[puddles] = radiance[puddles] * 0.6 + sky_color * 0.3
    streaks = _streaks(rng, (h, w), int(intensity * h * w / 400), h * 0.08, 90 + rng.uniform(-15, 15))
    return radiance * (1 - 0.5 * streaks[..., None]) + 0.75 * 0.5 * streaks[..., None]


def render_snow(scene: Scene, rng: np.random.Generator, haze: float) -> np.ndarray:
    h, w = scene.labels.shape
    albedo = scene.albedo.copy()
    points = scene.world_points()
    cover = np.clip(0.5 + smooth_noise(rng, (h, w), 40), 0, 1) * rng.uniform(0.6, 1.0)
    ground = _ground_mask(scene)
    road = scene.labels == class_id("road")
    cover_ground = np.where(road, cover * 0.6, cover)  # traffic clears part of the road
    # Snow settles on the upper half of tree crowns.
    vegetation = scene.labels == class_id("vegetation")
    tops = vegetation & (smooth_noise(rng, (h, w), 80) > 0.0) & (points[..., 1] > 2.5)
    snow_white = np.array([0.92, 0.94, 0.97], np.float32)
    weight = np.where(ground, cover_ground, 0.0) + np.where(tops, 0.7, 0.0)
    albedo = albedo * (1 - weight[..., None]) + snow_white * weight[..., None]
    snowy = Scene(scene.camera, scene.labels, scene.instances, scene.depth, albedo, scene.emissive, scene.lights)
    radiance = shade(snowy, haze, sun=rng.uniform(0.7, 0.9))
    beta = rng.uniform(0.005, 0.02)
    radiance = koschmieder(radiance, np.minimum(scene.distance(), 1e3), beta, np.full(3, 0.85, np.float32))
    # Flakes: near flakes are large and blurred, far ones small.
    flakes = np.zeros((h, w), np.float32)
    count = int(rng.uniform(0.3, 1.0) * h * w / 250)
    depth = rng.uniform(1.0, 20.0, count)
    xs, ys = rng.uniform(0, w, count), rng.uniform(0, h, count)
    radius = np.clip(6.0 * h / 512 / depth * 3, 0.6, 6.0)
    for x, y, r in zip(xs, ys, radius):
        cv2.circle(flakes, (int(x * 4), int(y * 4)), max(1, int(r * 4)), 1.0, -1, cv2.LINE_AA, shift=2)
    flakes = cv2.GaussianBlur(flakes, (0, 0), 0.8)
    radiance = radiance * (1 - 0.85 * flakes[..., None]) + 0.95 * 0.85 * flakes[..., None]
    return to_srgb8(radiance, rng, noise=0.01, blur=0.7)


def render_night(scene: Scene, rng: np.random.Generator, haze: float) -> np.ndarray:
    h, w = scene.labels.shape
    ambient = rng.uniform(0.015, 0.04)
    radiance = scene.albedo * ambient * np.array([0.8, 0.9, 1.2], np.float32)
    sky = _sky_mask(scene)
    rows = np.arange(h, dtype=np.float32)[:, None]
    glow = np.clip(rows / max(scene.camera.horizon, 1.0), 0, 1) ** 3  # light pollution at the horizon
    sky_radiance = (0.005 + 0.04 * glow)[..., None] * np.array([0.9, 0.7, 0.6], np.float32)
    radiance[sky] = np.broadcast_to(sky_radiance, radiance.shape)[sky]

    points = scene.world_points()
    surface = ~sky
    lit = np.zeros_like(radiance)
    for light in scene.lights:
        if light.kind not in ("lamp", "headlight"):
            continue
        delta = points - np.asarray(light.position, np.float32)
        dist2 = (delta**2).sum(axis=-1)
        falloff = light.intensity / (1.0 + dist2 / (4.0 if light.kind == "lamp" else 9.0))
        if light.kind == "headlight":  # headlights shine forward, towards the camera
            falloff = falloff * (delta[..., 2] < 0)
        lit += falloff[..., None] * np.asarray(light.color, np.float32)[None, None, :] * 0.15
    radiance[surface] += scene.albedo[surface] * lit[surface]
    emissive = scene.emissive & ~sky
    radiance[emissive] = scene.albedo[emissive] * 0.2 + np.array([0.9, 0.75, 0.45], np.float32) * 0.6
    # Bloom around every visible light source.
    sources = np.zeros((h, w), np.float32)
    cam = scene.camera
    for light in scene.lights:
        x, y, z = light.position
        if z <= 0.5:
            continue
        u, v = cam.project(x, y, z)
        if 0 <= u < w and 0 <= v < h and scene.depth[int(v), int(u)] >= z - 0.5:
            sources[int(v), int(u)] += light.intensity * 40.0 / z
    bloom = cv2.GaussianBlur(sources, (0, 0), max(1.5, h / 100))
    radiance += bloom[..., None] * np.array([1.0, 0.85, 0.6], np.float32)[None, None, :]
    radiance = radiance * rng.uniform(1.5, 3.0)  # auto exposure
    return to_srgb8(radiance, rng, noise=rng.uniform(0.015, 0.03), blur=0.8)


RENDERERS = {
    "clear": render_clear,
    "fog": render_fog,
    "rain": render_rain,
    "snow": render_snow,
    "night": render_night,
}


def render(scene: Scene, condition: str, rng: np.random.Generator, haze: float) -> np.ndarray:
    """Render ``scene`` under ``condition`` (one of :data:`CONDITIONS`) to an sRGB uint8 image."""
    try:
        renderer = RENDERERS[condition]
    except KeyError:
        raise ValueError(f"unknown condition {condition!r}; choose one of {', '.join(CONDITIONS)}") from None
    return renderer(scene, rng, haze)
