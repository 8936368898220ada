"""Procedural street scenes: geometry, labels, depth and a clear-weather rendering.

A scene is laid out in metric world coordinates (X right, Y up, Z forward, camera at height
``cam_height``) and projected with a pinhole camera, so every pixel has a true depth. The
weather effects in :mod:`segrel.data.demo.weather` use that depth (fog attenuation, snow flakes size,
night light fall-off), which is what makes the shifted sets physically shifted rather than
just recoloured.

Labels are Cityscapes labelIds (0..33) plus a few ids above 33 for classes that only the
IDD-like style uses (see :data:`EXTRA_CLASSES`); the writers in :mod:`segrel.data.demo.writers`
translate them into each dataset's own label space.
"""

from __future__ import annotations

from dataclasses import dataclass, field

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
class SceneStyle:
    """What distinguishes one dataset's look and layout from another's."""

    name: str
    horizon: tuple[float, float] = (0.40, 0.47)  # fraction of the height
    focal: tuple[float, float] = (1.0, 1.2)  # fraction of the width
    road_half_width: tuple[float, float] = (4.5, 8.0)
    sidewalk_width: tuple[float, float] = (2.0, 4.5)
    building_height: tuple[float, float] = (8.0, 24.0)
    building_palette: tuple[tuple[float, float, float], ...] = (
        (0.55, 0.52, 0.48),
        (0.62, 0.55, 0.45),
        (0.45, 0.45, 0.47),
        (0.58, 0.40, 0.33),
        (0.70, 0.68, 0.62),
    )
    road_color: tuple[float, float, float] = (0.30, 0.30, 0.32)
    sidewalk_color: tuple[float, float, float] = (0.55, 0.50, 0.52)
    vegetation_color: tuple[float, float, float] = (0.22, 0.36, 0.12)
    sky_color: tuple[float, float, float] = (0.55, 0.70, 0.90)
    haze: float = 0.004
    lane_markings: bool = True
    cars: tuple[int, int] = (2, 7)
    persons: tuple[int, int] = (1, 6)
    two_wheelers: tuple[int, int] = (0, 2)
    trees: tuple[int, int] = (2, 8)
    poles: tuple[int, int] = (3, 7)
    large_vehicles: float = 0.35  # probability of a truck or bus
    train: float = 0.05  # probability of a tram
    # IDD-only elements (probabilities / counts); zero for Cityscapes-like scenes.
    autorickshaws: tuple[int, int] = (0, 0)
    billboards: tuple[int, int] = (0, 0)
    guard_rail: float = 0.0
    curbs: float = 0.0
    dirt_shoulder: float = 0.0
    bridge: float = 0.0


CITYSCAPES_STYLE = SceneStyle(name="cityscapes")

IDD_STYLE = SceneStyle(
    name="idd",
    horizon=(0.36, 0.44),
    focal=(0.8, 1.0),
    road_half_width=(3.5, 6.0),
    sidewalk_width=(1.0, 3.0),
    building_height=(4.0, 14.0),
    building_palette=(
        (0.80, 0.62, 0.42),
        (0.72, 0.74, 0.52),
        (0.85, 0.55, 0.55),
        (0.55, 0.70, 0.78),
        (0.78, 0.72, 0.60),
    ),
    road_color=(0.40, 0.37, 0.33),
    sidewalk_color=(0.62, 0.55, 0.45),
    vegetation_color=(0.30, 0.38, 0.14),
    sky_color=(0.75, 0.76, 0.78),
    haze=0.008,
    lane_markings=False,
    cars=(1, 5),
    persons=(3, 10),
    two_wheelers=(2, 6),
    trees=(1, 6),
    poles=(2, 6),
    large_vehicles=0.5,
    train=0.0,
    autorickshaws=(1, 4),
    billboards=(0, 3),
    guard_rail=0.4,
    curbs=0.6,
    dirt_shoulder=0.5,
    bridge=0.15,
)

STYLES = {style.name: style for style in (CITYSCAPES_STYLE, IDD_STYLE)}


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


@dataclass
class Scene:
    """Everything a renderer or a dataset writer needs about one generated scene."""

    camera: Camera
    labels: np.ndarray  # (H, W) uint8 internal label ids
    instances: np.ndarray  # (H, W) int32, 0 = no instance
    depth: np.ndarray  # (H, W) float32, Z in metres (SKY_DEPTH for sky)
    albedo: np.ndarray  # (H, W, 3) float32 linear reflectance
    emissive: np.ndarray  # (H, W) bool: pixels that glow at night (lamps, lit windows)
    lights: list[Light] = field(default_factory=list)
    anomaly: np.ndarray | None = None  # (H, W) bool, SMIYC-like scenes only

    def distance(self) -> np.ndarray:
        """Euclidean camera distance per pixel (fog attenuation follows the ray length)."""
        h, w = self.labels.shape
        cam = self.camera
        xs = (np.arange(w, dtype=np.float32) - cam.cx) / cam.focal
        ys = (np.arange(h, dtype=np.float32) - cam.horizon) / cam.focal
        ray = np.sqrt(1.0 + xs[None, :] ** 2 + ys[:, None] ** 2)
        return self.depth * ray

    def world_points(self) -> np.ndarray:
        """(H, W, 3) world coordinates of every pixel's surface point."""
        h, w = self.labels.shape
        cam = self.camera
        cols = np.arange(w, dtype=np.float32)[None, :]
        rows = np.arange(h, dtype=np.float32)[:, None]
        z = self.depth
        x = (cols - cam.cx) * z / cam.focal
        y = cam.cam_height - (rows - cam.horizon) * z / cam.focal
        return np.stack([x, y, z], axis=-1)


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cells: int) -> np.ndarray:
    """Value noise in [-1, 1]: a coarse random grid upsampled bicubically."""
    h, w = shape
    grid_h = max(2, int(round(cells * h / max(h, w))) + 1)
    grid_w = max(2, int(round(cells * w / max(h, w))) + 1)
    grid = rng.uniform(-1.0, 1.0, size=(grid_h, grid_w)).astype(np.float32)
    return np.clip(cv2.resize(grid, (w, h), interpolation=cv2.INTER_CUBIC), -1.0, 1.0)


class _Canvas:
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


def _jitter(rng, color, amount=0.06):
    return np.clip(np.asarray(color, np.float32) + rng.uniform(-amount, amount, 3), 0.02, 0.98)


def _sample_camera(rng, style: SceneStyle, height: int, width: int) -> Camera:
    return Camera(
        height=height,
        width=width,
        focal=width * rng.uniform(*style.focal),
        horizon=height * rng.uniform(*style.horizon),
    )


@dataclass
class _Layout:
    centre: float  # X of the road's middle (the ego lane is not always centred)
    road_left: float
    road_right: float
    sidewalk: float
    facade_left: float
    facade_right: float
    shoulder_left: str  # "sidewalk" | "drivable fallback" | "terrain"
    shoulder_right: str
    crossing: tuple[float, float] | None  # Z range of a side street, if any


def _ground(canvas: _Canvas, rng, style: SceneStyle, layout: _Layout):
    """Road, lane markings, sidewalks / shoulders and terrain: a per-pixel ground-plane pass."""
    cam = canvas.camera
    h, w = canvas.labels.shape
    rows = np.arange(h, dtype=np.float32)[:, None]
    cols = np.arange(w, dtype=np.float32)[None, :]
    below = rows > cam.horizon + 0.5
    z = np.where(below, cam.focal * cam.cam_height / np.maximum(rows - cam.horizon, 0.5), SKY_DEPTH)
    z = np.broadcast_to(z, (h, w)).astype(np.float32)
    x = (cols - cam.cx) * z / cam.focal

    road = (x > layout.road_left) & (x < layout.road_right)
    side_left = (x <= layout.road_left) & (x > layout.road_left - layout.sidewalk)
    side_right = (x >= layout.road_right) & (x < layout.road_right + layout.sidewalk)
    beyond = ~(road | side_left | side_right)
    if layout.crossing is not None:
        z0, z1 = layout.crossing
        in_crossing = (z > z0) & (z < z1)
        road |= in_crossing & ~road
        side_left &= ~in_crossing
        side_right &= ~in_crossing
        beyond &= ~in_crossing

    plane = below
    canvas.paint(plane & beyond, class_id("terrain"), z, _jitter(rng, (0.42, 0.45, 0.22)), texture=2.0)
    for side_mask, kind in ((side_left, layout.shoulder_left), (side_right, layout.shoulder_right)):
        color = {
            "sidewalk": _jitter(rng, style.sidewalk_color),
            "drivable fallback": _jitter(rng, (0.48, 0.40, 0.30)),
            "terrain": _jitter(rng, (0.42, 0.45, 0.22)),
        }[kind]
        canvas.paint(plane & side_mask, class_id(kind), z, color, texture=1.5)
    road_color = _jitter(rng, style.road_color, 0.04)
    canvas.paint(plane & road, class_id("road"), z, road_color)

    if style.lane_markings:
        period = rng.uniform(6.0, 12.0)
        width_m = 0.15
        lanes = np.arange(layout.road_left + 3.2, layout.road_right - 1.5, 3.2)
        for lane_x in lanes:
            dashes = (np.abs(x - lane_x) < width_m) & ((z % period) < period * 0.45)
            dashes &= plane & road & (z < 120)
            canvas.labels[dashes] = class_id("road")
            canvas.albedo[dashes] = (0.85, 0.85, 0.82)
    if style.curbs and rng.random() < style.curbs:
        for edge in (layout.road_left, layout.road_right):
            curb = plane & (np.abs(x - edge) < 0.2) & (z < 150)
            stripes = (z % 2.0) < 1.0
            canvas.labels[curb] = class_id("curb")
            canvas.albedo[curb & stripes] = (0.85, 0.80, 0.15)
            canvas.albedo[curb & ~stripes] = (0.08, 0.08, 0.08)


def _vertical_plane(cam: Camera, x_plane: float):
    """Per pixel, where the plane X = x_plane (parallel to the road) is seen: (valid, Z, Y)."""
    cols = np.arange(cam.width, dtype=np.float32)[None, :]
    rows = np.arange(cam.height, dtype=np.float32)[:, None]
    offset = cols - cam.cx
    valid = np.broadcast_to(offset * np.sign(x_plane) > 0.5, (cam.height, cam.width))
    z_col = np.where(valid, cam.focal * x_plane / np.where(offset == 0, 1.0, offset), SKY_DEPTH)
    z_col = np.broadcast_to(z_col, (cam.height, cam.width)).astype(np.float32)
    y_world = cam.cam_height - (rows - cam.horizon) * z_col / cam.focal
    return valid, z_col, y_world


def _facades(canvas: _Canvas, rng, style: SceneStyle, layout: _Layout):
    """Building façades as vertical planes parallel to the road, with window grids."""
    cam = canvas.camera
    w = cam.width
    for side, x_plane in ((-1, layout.facade_left), (1, layout.facade_right)):
        valid, z_col, y_world = _vertical_plane(cam, x_plane)
        shade = 0.75 if side < 0 else 1.0  # the sun lights one side of the street
        z = rng.uniform(0.5, 4.0)
        while z < 220:
            length = rng.uniform(8.0, 30.0)
            # Only the columns where the plane's depth lies in [z, z + length] can be touched.
            u_near, u_far = cam.cx + cam.focal * x_plane / z, cam.cx + cam.focal * x_plane / (z + length)
            cs = slice(max(0, int(min(u_near, u_far)) - 1), min(w, int(max(u_near, u_far)) + 2))
            zc, yw = z_col[:, cs], y_world[:, cs]
            in_segment = valid[:, cs] & (zc >= z) & (zc < z + length) & (yw >= 0)
            gap = rng.random() < 0.25
            if gap:  # an opening between buildings: vegetation or nothing
                if rng.random() < 0.5:
                    seg = in_segment & (yw < rng.uniform(3.0, 8.0))
                    canvas.paint(seg, class_id("vegetation"), zc, _jitter(rng, style.vegetation_color),
                                 texture=3.0, window=(slice(None), cs))
                z += length
                continue
            if layout.crossing is not None and layout.crossing[0] < z < layout.crossing[1]:
                z = layout.crossing[1]
                continue
            height = rng.uniform(*style.building_height)
            color = np.asarray(style.building_palette[rng.integers(len(style.building_palette))])
            color = _jitter(rng, color * shade)
            painted = canvas.paint(in_segment & (yw < height), class_id("building"), zc, color,
                                   texture=1.0, window=(slice(None), cs))[:, cs]
            # Windows: a grid in façade coordinates (Z along the street, Y up); some lit at night.
            wz, wy = rng.uniform(2.5, 4.0), rng.uniform(2.8, 3.5)
            win = painted & (((zc - z) % wz) < wz * 0.45) & ((yw % wy) > wy * 0.4) & (yw > 3.0)
            canvas.albedo[:, cs][win] = _jitter(rng, (0.12, 0.15, 0.20), 0.03)
            lit = win & (canvas.texture[:, cs] > rng.uniform(-0.02, 0.06))
            canvas.emissive[:, cs][lit] = True
            z += length


def _tree(canvas: _Canvas, rng, style, x, z):
    trunk_h = rng.uniform(2.0, 4.0)
    color = _jitter(rng, style.vegetation_color)
    canvas.box(x - 0.15, x + 0.15, 0.0, trunk_h, z, class_id("vegetation"), (0.25, 0.18, 0.12))
    radius = rng.uniform(1.2, 2.8)
    canvas.disc(x, trunk_h + radius * 0.7, radius, radius * rng.uniform(0.8, 1.2), z - 0.01,
                class_id("vegetation"), color, texture=3.0)


def _pole(canvas: _Canvas, rng, x, z, with_lamp: bool):
    height = rng.uniform(4.0, 8.0)
    canvas.box(x - 0.08, x + 0.08, 0.0, height, z, class_id("pole"), _jitter(rng, (0.40, 0.40, 0.42)))
    kind = rng.integers(3)
    if kind == 0:  # traffic sign
        shape_color = [(0.1, 0.2, 0.7), (0.8, 0.1, 0.1), (0.9, 0.8, 0.1)][rng.integers(3)]
        canvas.disc(x, 2.6, 0.35, 0.35, z - 0.02, class_id("traffic sign"), _jitter(rng, shape_color), texture=0.2)
    elif kind == 1:  # traffic light
        canvas.box(x - 0.18, x + 0.18, 3.2, 4.1, z - 0.02, class_id("traffic light"), (0.08, 0.08, 0.08), texture=0.2)
        lamp = [(0.9, 0.1, 0.05), (0.95, 0.7, 0.05), (0.1, 0.9, 0.3)][rng.integers(3)]
        canvas.disc(x, 3.9, 0.09, 0.09, z - 0.03, class_id("traffic light"), lamp, texture=0.0, emissive=True)
        canvas.lights.append(Light((x, 3.9, z), lamp, 0.6, "traffic"))
    if with_lamp:
        canvas.box(x - 0.5, x + 0.1, height - 0.15, height, z - 0.01, class_id("pole"), (0.85, 0.85, 0.75),
                   emissive=True)
        canvas.lights.append(Light((x - 0.2, height, z), (1.0, 0.8, 0.5), 3.0, "lamp"))


def _car(canvas: _Canvas, rng, x, z, facing_camera: bool, kind: str = "car"):
    dims = {"car": (1.8, 1.5), "truck": (2.5, 3.6), "bus": (2.55, 3.2), "caravan": (2.3, 2.8)}
    width, height = dims[kind]
    width *= rng.uniform(0.92, 1.08)
    label = class_id(kind)
    instance = canvas.new_instance()
    body = _jitter(rng, rng.uniform(0.05, 0.9, 3), 0.0)
    half = width / 2
    if kind == "car":
        canvas.box(x - half, x + half, 0.3, 0.95, z, label, body, instance, texture=0.4)
        canvas.box(x - half * 0.8, x + half * 0.8, 0.95, height, z, label, body * 0.9, instance, texture=0.4)
        canvas.box(x - half * 0.7, x + half * 0.7, 1.0, height - 0.1, z - 0.01, label, (0.08, 0.1, 0.12), instance,
                   texture=0.2)
    else:
        canvas.box(x - half, x + half, 0.3, height, z, label, body, instance, texture=0.4)
        canvas.box(x - half * 0.9, x + half * 0.9, height * 0.55, height * 0.9, z - 0.01, label,
                   (0.1, 0.12, 0.14), instance, texture=0.2)
    for wheel_x in (x - half * 0.75, x + half * 0.75):
        canvas.box(wheel_x - 0.18, wheel_x + 0.18, 0.0, 0.35, z - 0.02, label, (0.04, 0.04, 0.04), instance,
                   texture=0.2)
    lamp_color = (1.0, 0.95, 0.8) if facing_camera else (0.9, 0.05, 0.02)
    lamp_kind = "headlight" if facing_camera else "taillight"
    for lamp_x in (x - half * 0.8, x + half * 0.8):
        canvas.box(lamp_x - 0.12, lamp_x + 0.12, 0.65, 0.8, z - 0.03, label, lamp_color, instance,
                   texture=0.0, emissive=True)
        canvas.lights.append(Light((lamp_x, 0.72, z - 0.05), lamp_color, 2.5 if facing_camera else 0.4, lamp_kind))


def _autorickshaw(canvas: _Canvas, rng, x, z):
    label = class_id("autorickshaw")
    instance = canvas.new_instance()
    green = _jitter(rng, (0.15, 0.45, 0.15))
    canvas.box(x - 0.7, x + 0.7, 0.25, 1.1, z, label, green, instance)
    canvas.box(x - 0.75, x + 0.75, 1.1, 1.75, z, label, (0.9, 0.8, 0.1), instance)  # yellow canopy
    canvas.box(x - 0.55, x + 0.55, 1.15, 1.6, z - 0.01, label, (0.05, 0.05, 0.05), instance)
    for wheel_x in (x - 0.55, x + 0.55):
        canvas.box(wheel_x - 0.12, wheel_x + 0.12, 0.0, 0.3, z - 0.02, label, (0.03, 0.03, 0.03), instance)


def _person(canvas: _Canvas, rng, x, z, label_name="person", base_y=0.0, instance=None):
    label = class_id(label_name)
    instance = instance or canvas.new_instance()
    height = rng.uniform(1.55, 1.9)
    top = _jitter(rng, rng.uniform(0.05, 0.9, 3), 0.0)
    legs = _jitter(rng, (0.15, 0.15, 0.25))
    skin = _jitter(rng, (0.75, 0.55, 0.42), 0.15)
    if label_name == "person":
        canvas.box(x - 0.18, x - 0.02, base_y, base_y + height * 0.48, z, label, legs, instance)
        canvas.box(x + 0.02, x + 0.18, base_y, base_y + height * 0.48, z, label, legs, instance)
        hips = base_y + height * 0.48
    else:  # a seated rider: the two-wheeler hides the legs
        hips = base_y - height * 0.1
    shoulders = hips + height * 0.37
    canvas.box(x - 0.24, x + 0.24, hips, shoulders, z, label, top, instance)
    canvas.disc(x, shoulders + height * 0.07, 0.11, 0.13, z, label, skin, instance)
    return instance


def _two_wheeler(canvas: _Canvas, rng, x, z, motor: bool):
    label = class_id("motorcycle" if motor else "bicycle")
    instance = canvas.new_instance()
    frame = _jitter(rng, rng.uniform(0.05, 0.8, 3), 0.0)
    canvas.box(x - 0.12, x + 0.12, 0.0, 0.7, z, label, (0.05, 0.05, 0.05), instance)  # wheel seen end-on
    canvas.box(x - 0.3, x + 0.3, 0.55, 0.95 if motor else 0.85, z - 0.01, label, frame, instance)
    _person(canvas, rng, x, z + 0.05, "rider", base_y=0.85)
    if motor:
        canvas.lights.append(Light((x, 0.8, z - 0.05), (0.9, 0.05, 0.02), 0.3, "taillight"))


BARRIER_COLORS = {"wall": (0.55, 0.52, 0.50), "fence": (0.45, 0.40, 0.36), "guard rail": (0.65, 0.66, 0.68)}


def _barrier(canvas: _Canvas, rng, x_plane: float, z0: float, z1: float, kind: str):
    """A wall, fence or guard rail along the road between depths z0 and z1."""
    valid, z_col, y_world = _vertical_plane(canvas.camera, x_plane)
    height = rng.uniform(0.6, 0.9) if kind == "guard rail" else rng.uniform(0.9, 2.0)
    mask = valid & (z_col >= z0) & (z_col < z1) & (y_world >= 0) & (y_world < height)
    painted = canvas.paint(mask, class_id(kind), z_col, _jitter(rng, BARRIER_COLORS[kind]), texture=1.2)
    if kind != "wall":  # fences are mostly holes, but datasets label their whole extent
        canvas.albedo[painted & ((z_col % 0.6) < 0.3)] *= 0.6


def _ego_vehicle(canvas: _Canvas, rng):
    h, w = canvas.labels.shape
    top = h * rng.uniform(0.90, 0.94)
    xs = np.linspace(0, w, 24)
    ys = top + (h - top) * 0.8 * ((xs - w / 2) / (w / 2)) ** 2
    pts = list(zip(xs, ys)) + [(w, h + 1), (0, h + 1)]
    window_mask, window = canvas.polygon_mask(pts)
    mask = np.zeros(canvas.labels.shape, dtype=bool)
    mask[window] = window_mask
    canvas.labels[mask] = class_id("ego vehicle")
    canvas.depth[mask] = 1.0
    canvas.instances[mask] = 0
    canvas.albedo[mask] = _jitter(rng, (0.08, 0.08, 0.1), 0.03)
    canvas.emissive[mask] = False


def _sky(canvas: _Canvas, rng, style: SceneStyle):
    cam = canvas.camera
    h, w = canvas.labels.shape
    rows = np.arange(h, dtype=np.float32)[:, None, None]
    horizon_color = np.asarray(style.sky_color, np.float32) * 0.6 + 0.4
    zenith = _jitter(rng, style.sky_color, 0.05)
    t = np.clip(rows / max(cam.horizon, 1.0), 0, 1)
    sky = zenith[None, None, :] * (1 - t) + horizon_color[None, None, :] * t
    clouds = np.clip(smooth_noise(rng, (h, w), 10), 0, 1)[..., None] * rng.uniform(0, 0.5)
    canvas.albedo[:] = np.clip(sky + clouds * (1 - sky), 0, 1)
    canvas.labels[:] = class_id("sky")


def generate_scene(
    seed_sequence: np.random.SeedSequence,
    height: int,
    width: int,
    style: SceneStyle = CITYSCAPES_STYLE,
    anomalies: int = 0,
) -> Scene:
    """Lay out and rasterise one scene. Deterministic in ``seed_sequence``.

    Every step draws from the one generator in turn, so their order is part of each scene's
    bytes: reordering them changes every demo image.
    """
    rng = np.random.default_rng(seed_sequence)
    camera = _sample_camera(rng, style, height, width)
    canvas = _Canvas(camera, rng)
    layout = _sample_layout(rng, style)

    _sky(canvas, rng, style)
    _ground(canvas, rng, style, layout)
    _facades(canvas, rng, style, layout)
    _bridge(canvas, rng, style, layout)
    # Street furniture and objects, painted far to near by the depth test.
    _street_furniture(canvas, rng, style, layout)
    _vehicles(canvas, rng, style, layout)
    _pedestrians(canvas, rng, style, layout)
    anomaly_mask = _anomalies(canvas, rng, layout, anomalies)

    _ego_vehicle(canvas, rng)
    if anomaly_mask is not None:
        anomaly_mask &= canvas.labels == class_id("anomaly")
    return Scene(
        camera=camera,
        labels=canvas.labels,
        instances=canvas.instances,
        depth=canvas.depth,
        albedo=canvas.albedo,
        emissive=canvas.emissive,
        lights=canvas.lights,
        anomaly=anomaly_mask,
    )


def _sample_layout(rng, style: SceneStyle) -> _Layout:
    """Road, sidewalks, façade lines, shoulders and an optional side street."""
    road_half = rng.uniform(*style.road_half_width)
    centre = rng.uniform(-0.4, 0.4) * road_half  # the ego lane is not always centred
    sidewalk = rng.uniform(*style.sidewalk_width)
    facade_left = centre - road_half - sidewalk - rng.uniform(0.0, 4.0)
    facade_right = centre + road_half + sidewalk + rng.uniform(0.0, 4.0)
    shoulder_left = "drivable fallback" if rng.random() < style.dirt_shoulder else "sidewalk"
    shoulder_right = "drivable fallback" if rng.random() < style.dirt_shoulder else "sidewalk"
    crossing = None
    if rng.random() < 0.3:
        crossing_start = rng.uniform(12, 40)
        crossing = (crossing_start, crossing_start + rng.uniform(8, 14))
    return _Layout(
        centre=centre,
        road_left=centre - road_half,
        road_right=centre + road_half,
        sidewalk=sidewalk,
        facade_left=facade_left,
        facade_right=facade_right,
        shoulder_left=shoulder_left,
        shoulder_right=shoulder_right,
        crossing=crossing,
    )


def _bridge(canvas: _Canvas, rng, style: SceneStyle, layout: _Layout):
    """Sometimes (IDD-like scenes) a bridge across the whole street."""
    if style.bridge and rng.random() < style.bridge:
        z = rng.uniform(40, 90)
        canvas.box(layout.facade_left - 20, layout.facade_right + 20, 5.5, 7.5, z, class_id("bridge"),
                   _jitter(rng, (0.55, 0.52, 0.48)))


def _street_furniture(canvas: _Canvas, rng, style: SceneStyle, layout: _Layout):
    """Trees, poles (signs, traffic lights, lamps), walls and fences, guard rails and billboards."""
    for _ in range(rng.integers(*style.trees, endpoint=True)):
        side = rng.choice([-1, 1])
        edge = layout.road_left if side < 0 else layout.road_right
        _tree(canvas, rng, style, edge + side * layout.sidewalk * rng.uniform(0.5, 0.9), rng.uniform(6, 70))
    for _ in range(rng.integers(*style.poles, endpoint=True)):
        side = rng.choice([-1, 1])
        edge = layout.road_left if side < 0 else layout.road_right
        _pole(canvas, rng, edge + side * rng.uniform(0.3, 0.8), rng.uniform(5, 60), rng.random() < 0.6)
    for side, edge in ((-1, layout.road_left), (1, layout.road_right)):
        if rng.random() < 0.35:
            z0 = rng.uniform(3, 20)
            kind = "wall" if rng.random() < 0.5 else "fence"
            _barrier(canvas, rng, edge + side * layout.sidewalk, z0, z0 + rng.uniform(5, 30), kind)
    if style.guard_rail and rng.random() < style.guard_rail:
        side = rng.choice([-1, 1])
        x_rail = (layout.road_left if side < 0 else layout.road_right) + side * 0.3
        _barrier(canvas, rng, x_rail, 2.0, 60.0, "guard rail")
    for _ in range(rng.integers(*style.billboards, endpoint=True)):
        side = rng.choice([-1, 1])
        x_b = (layout.facade_left if side < 0 else layout.facade_right) - side * 0.5
        z_b = rng.uniform(10, 50)
        canvas.box(x_b - 0.1, x_b + 0.1, 0.0, 4.0, z_b, class_id("pole"), (0.3, 0.3, 0.3))
        canvas.box(x_b - 2.5, x_b + 2.5, 4.0, 6.5, z_b - 0.01, class_id("billboard"),
                   _jitter(rng, rng.uniform(0.1, 0.95, 3), 0.0), texture=2.5)


def _vehicles(canvas: _Canvas, rng, style: SceneStyle, layout: _Layout):
    """Cars (some parked, some large vehicles), a tram, autorickshaws and two-wheelers."""
    lanes = np.arange(layout.road_left + 1.6, layout.road_right - 1.0, 3.2)
    for _ in range(rng.integers(*style.cars, endpoint=True)):
        parked = rng.random() < 0.4
        if parked:
            side = rng.choice([-1, 1])
            x = (layout.road_left + 1.1) if side < 0 else (layout.road_right - 1.1)
        else:
            x = rng.choice(lanes) if len(lanes) else layout.centre
        kind = "car"
        if rng.random() < style.large_vehicles / 3:
            kind = ["truck", "bus", "caravan"][rng.integers(3)]
        _car(canvas, rng, x, rng.uniform(8, 70), facing_camera=x < 0 and not parked, kind=kind)
    if rng.random() < style.train:
        _tram(canvas, rng, layout.centre)
    for _ in range(rng.integers(*style.autorickshaws, endpoint=True)):
        x = rng.choice(lanes) if len(lanes) else layout.centre
        _autorickshaw(canvas, rng, x + rng.uniform(-0.8, 0.8), rng.uniform(5, 40))
    for _ in range(rng.integers(*style.two_wheelers, endpoint=True)):
        x = rng.uniform(layout.road_left + 0.5, layout.road_right - 0.5)
        _two_wheeler(canvas, rng, x, rng.uniform(9, 45), motor=rng.random() < 0.5)


def _tram(canvas: _Canvas, rng, x: float):
    """A tram seen from behind, in the middle of the road."""
    label = class_id("train")
    z = rng.uniform(15, 50)
    instance = canvas.new_instance()
    canvas.box(x - 1.3, x + 1.3, 0.4, 3.6, z, label, _jitter(rng, (0.8, 0.75, 0.2)), instance)
    canvas.box(x - 1.1, x + 1.1, 1.8, 3.0, z - 0.01, label, (0.1, 0.1, 0.12), instance)


def _pedestrians(canvas: _Canvas, rng, style: SceneStyle, layout: _Layout):
    """People on the sidewalks, a few crossing the road."""
    for _ in range(rng.integers(*style.persons, endpoint=True)):
        side = rng.choice([-1, 1])
        edge = layout.road_left if side < 0 else layout.road_right
        x = edge + side * layout.sidewalk * rng.uniform(0.2, 0.9)
        if rng.random() < 0.15:  # crossing the road
            x = rng.uniform(layout.road_left, layout.road_right)
        _person(canvas, rng, x, rng.uniform(4, 40))


def _anomalies(canvas: _Canvas, rng, layout: _Layout, count: int) -> np.ndarray | None:
    """``count`` out-of-distribution objects on the road; the mask of what they painted (None if none)."""
    if not count:
        return None
    anomaly_mask = np.zeros(canvas.labels.shape, dtype=bool)
    for _ in range(count):
        x = rng.uniform(layout.road_left + 1.0, layout.road_right - 1.0)
        anomaly_mask |= _anomaly_object(canvas, rng, x, rng.uniform(7, 30))
    return anomaly_mask


def _anomaly_object(canvas: _Canvas, rng, x: float, z: float) -> np.ndarray:
    """An object that has no place on a Cityscapes road: an animal, a rock, furniture, debris.

    Shapes and textures are deliberately unlike any training class (saturated colours,
    stripes, checkerboards) so that they are out-of-distribution for the demo models.
    """
    label = class_id("anomaly")
    instance = canvas.new_instance()
    cam = canvas.camera
    kind = rng.integers(3)
    color = _jitter(rng, rng.uniform(0.0, 1.0, 3), 0.0)
    if kind == 0:  # a quadruped: body, legs, head
        length, body_h = rng.uniform(1.0, 2.2), rng.uniform(0.5, 1.0)
        painted = canvas.disc(x, 0.6 + body_h / 2, length / 2, body_h / 2, z, label, color, instance)
        for leg in (-0.35, -0.15, 0.15, 0.35):
            painted |= canvas.box(x + leg * length - 0.06, x + leg * length + 0.06, 0.0, 0.7, z, label, color * 0.7,
                                  instance)
        painted |= canvas.disc(x + length * 0.55, 1.0 + body_h / 2, 0.2, 0.18, z - 0.01, label, color, instance)
    elif kind == 1:  # an irregular rock / debris pile
        radius = rng.uniform(0.4, 1.2)
        angles = np.sort(rng.uniform(0, 2 * np.pi, 9))
        radii = radius * rng.uniform(0.6, 1.0, 9)
        pts = [cam.project(x + r * np.cos(a), max(0.0, radius * 0.8 + r * np.sin(a)), z) for a, r in zip(angles, radii)]
        mask, window = canvas.polygon_mask(pts)
        painted = canvas.paint(mask, label, z, color, instance, texture=3.0, window=window)
    else:  # furniture-like block
        width, height = rng.uniform(0.6, 2.0), rng.uniform(0.4, 1.5)
        painted = canvas.box(x - width / 2, x + width / 2, 0.0, height, z, label, color, instance)
    # A pattern no training class has.
    pattern = np.indices(canvas.labels.shape).sum(axis=0) // max(2, int(cam.focal * 0.15 / z)) % 2 == 0
    canvas.albedo[painted & pattern] = 1.0 - canvas.albedo[painted & pattern]
    return painted
