"""The demo scenes' rasteriser: a pinhole camera over metric world coordinates (X right, Y up,
Z forward) and a painter's-algorithm canvas that keeps labels, instances, depth, albedo and
night lights in step, so every pixel has a true depth and label."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from cityscapesscripts.helpers.labels import name2label

SKY_DEPTH = 1.0e4


#: Label ids above Cityscapes' 0..33, for classes only the IDD-like scenes contain.
EXTRA_CLASSES = {
    "autorickshaw": 40,
    "billboard": 41,
    "curb": 42,
    "drivable fallback": 43,
    "anomaly": 50,
}


def class_id(name: str) -> int:
    """Internal label id of a class name (Cityscapes name or one of EXTRA_CLASSES)."""
    if name in EXTRA_CLASSES:
        return EXTRA_CLASSES[name]
    return name2label[name].id


@dataclass(frozen=True)
class Camera:
    height: int
    width: int
    focal: float
    horizon: float
    cam_height: float = 1.5

    @property
    def cx(self) -> float:
        return self.width / 2.0

    def project(self, x: float, y: float, z: float) -> tuple[float, float]:
        """World point (metres) -> pixel (column, row)."""
        return (
            self.cx + self.focal * x / z,
            self.horizon + self.focal * (self.cam_height - y) / z,
        )


@dataclass(frozen=True)
class Light:
    """A light source for night rendering: world position, colour, intensity."""

    position: tuple[float, float, float]
    color: tuple[float, float, float]
    intensity: float
    kind: str  # "lamp", "headlight", "taillight", "window", "traffic"


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cells: int) -> np.ndarray:
    """Value noise in [-1, 1]: a coarse random grid upsampled bicubically."""
    h, w = shape
    grid_h = max(2, int(round(cells * h / max(h, w))) + 1)
    grid_w = max(2, int(round(cells * w / max(h, w))) + 1)
    grid = rng.uniform(-1.0, 1.0, size=(grid_h, grid_w)).astype(np.float32)
    return np.clip(cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC), -1.0, 1.0)


class Canvas:
    """Painter's-algorithm rasteriser that keeps labels, depth, albedo and instances in step."""

    def __init__(self, camera: Camera, rng: np.random.Generator):
        h, w = camera.height, camera.width
        self.camera = camera
        self.rng = rng
        self.labels = np.zeros((h, w), dtype=np.uint8)
        self.instances = np.zeros((h, w), dtype=np.int32)
        self.depth = np.full((h, w), SKY_DEPTH, dtype=np.float32)
        self.albedo = np.zeros((h, w, 3), dtype=np.float32)
        self.emissive = np.zeros((h, w), dtype=bool)
        self.lights: list[Light] = []
        self._next_instance = 1
        # Two shared texture fields: coarse (surface variation) and fine (grain).
        self.texture = 0.12 * smooth_noise(rng, (h, w), 24) + 0.05 * smooth_noise(rng, (h, w), 160)

    def new_instance(self) -> int:
        self._next_instance += 1
        return self._next_instance

    def _window(self, xs, ys, margin=2):
        """Rows/columns slices of the image that contain the given pixel coordinates."""
        h, w = self.labels.shape
        r0, r1 = max(0, int(np.floor(min(ys))) - margin), min(h, int(np.ceil(max(ys))) + margin)
        c0, c1 = max(0, int(np.floor(min(xs))) - margin), min(w, int(np.ceil(max(xs))) + margin)
        return slice(r0, max(r0, r1)), slice(c0, max(c0, c1))

    def polygon_mask(self, points):
        """(mask, window): the polygon rasterised inside the smallest window that holds it."""
        pts = np.asarray(points, dtype=np.float64)
        window = self._window(pts[:, 0], pts[:, 1])
        shape = (window[0].stop - window[0].start, window[1].stop - window[1].start)
        mask = np.zeros(shape, dtype=np.uint8)
        if mask.size:
            offset = np.array([window[1].start, window[0].start], dtype=np.float64)
            fixed = np.round((pts - offset) * 16).astype(np.int32)
            cv2.fillPoly(mask, [fixed], 1, lineType=cv2.LINE_8, shift=4)
        return mask.astype(bool), window

    def ellipse_mask(self, center, axes):
        """(mask, window) of a filled axis-aligned ellipse."""
        (u, v), (a, b) = center, axes
        window = self._window([u - a, u + a], [v - b, v + b])
        shape = (window[0].stop - window[0].start, window[1].stop - window[1].start)
        mask = np.zeros(shape, dtype=np.uint8)
        if mask.size:
            c = (int(round((u - window[1].start) * 16)), int(round((v - window[0].start) * 16)))
            ax = (max(1, int(round(a * 16))), max(1, int(round(b * 16))))
            cv2.ellipse(mask, c, ax, 0, 0, 360, 1, thickness=-1, lineType=cv2.LINE_8, shift=4)
        return mask.astype(bool), window

    def paint(self, mask, label, depth, color, instance=0, texture=1.0, emissive=False, window=None):
        """Paint ``mask`` where it is nearer than what is already there; returns the full-size
        mask of what was painted. ``mask`` covers ``window`` (the whole image by default);
        ``depth`` is a scalar or an array of the image's or the window's shape."""
        window = window or (slice(None), slice(None))
        depth_arr = np.asarray(depth, dtype=np.float32)
        if depth_arr.shape == self.depth.shape:
            depth_arr = depth_arr[window]
        visible = mask & (depth_arr <= self.depth[window])
        full = np.zeros(self.depth.shape, dtype=bool)
        if not visible.any():
            return full
        full[window] = visible
        # Assign through views of the window: indexing the full image costs 10x more.
        self.labels[window][visible] = label
        self.depth[window][visible] = np.broadcast_to(depth_arr, visible.shape)[visible]
        self.instances[window][visible] = instance
        shade = 1.0 + texture * self.texture[window][visible]
        self.albedo[window][visible] = np.clip(np.asarray(color, np.float32)[None, :] * shade[:, None], 0, 1)
        self.emissive[window][visible] = emissive
        return full

    def box(self, x0, x1, y0, y1, z, label, color, instance=0, texture=1.0, emissive=False):
        """An upright rectangle facing the camera, world extents x0..x1, y0..y1 at depth z."""
        cam = self.camera
        u0, v1 = cam.project(x0, y0, z)
        u1, v0 = cam.project(x1, y1, z)
        mask, window = self.polygon_mask([(u0, v0), (u1, v0), (u1, v1), (u0, v1)])
        return self.paint(mask, label, z, color, instance, texture, emissive, window)

    def disc(self, x, y, radius_x, radius_y, z, label, color, instance=0, texture=1.0, emissive=False):
        cam = self.camera
        u, v = cam.project(x, y, z)
        axes = (cam.focal * radius_x / z, cam.focal * radius_y / z)
        mask, window = self.ellipse_mask((u, v), axes)
        return self.paint(mask, label, z, color, instance, texture, emissive, window)


def jitter(rng, color, amount=0.06):
    return np.clip(np.asarray(color, np.float32) + rng.uniform(-amount, amount, 3), 0.02, 0.98)


def vertical_plane(cam: Camera, x_plane: float):
    """Per pixel, where the plane X = x_plane (parallel to the road) is seen: (valid, Z, Y)."""
    cols = np.arange(cam.width, dtype=np.float32)[None, :]
    rows = np.arange(cam.height, dtype=np.float32)[:, None]
    offset = cols - cam.cx
    valid = np.broadcast_to(offset * np.sign(x_plane) > 0.5, (cam.height, cam.width))
    z_col = np.where(valid, cam.focal * x_plane / np.where(offset == 0, 1.0, offset), SKY_DEPTH)
    z_col = np.broadcast_to(z_col, (cam.height, cam.width)).astype(np.float32)
    y_world = cam.cam_height - (rows - cam.horizon) * z_col / cam.focal
    return valid, z_col, y_world
