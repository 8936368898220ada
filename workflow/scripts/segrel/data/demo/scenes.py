"""Procedural street scenes: geometry, labels, depth and a clear-weather rendering.

A scene is laid out in metric world coordinates (X right, Y up, Z forward, camera at height
``cam_height``) and projected with a pinhole camera (:mod:`segrel.data.demo.canvas`; the things
in it: :mod:`segrel.data.demo.objects`), so every pixel has a true depth. The
weather effects in :mod:`segrel.data.demo.weather` use that depth (fog attenuation, snow flakes size,
night light fall-off), which is what makes the shifted sets physically shifted rather than
just recoloured.

Labels are Cityscapes labelIds (0..33) plus a few ids above 33 for classes that only the
IDD-like style uses (see :data:`segrel.data.demo.canvas.EXTRA_CLASSES`); the writers in :mod:`segrel.data.demo.writers`
translate them into each dataset's own label space.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from segrel.data.demo.canvas import SKY_DEPTH, Camera, Canvas, Light, class_id, jitter, smooth_noise, vertical_plane
from segrel.data.demo.objects import (
    anomaly_object,
    autorickshaw,
    barrier,
    car,
    ego_vehicle,
    person,
    pole,
    tram,
    tree,
    two_wheeler,
)


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


def _sample_camera(rng, style: SceneStyle, height: int, width: int) -> Camera:
    return Camera(
        height=height,
        width=width,
        focal=width * rng.uniform(*style.focal),
        horizon=height * rng.uniform(*style.horizon),
    )


@dataclass
class _StreetLayout:
    centre: float  # X of the road's middle (the ego lane is not always centred)
    road_left: float
    road_right: float
    sidewalk: float
    facade_left: float
    facade_right: float
    shoulder_left: str  # "sidewalk" | "drivable fallback" | "terrain"
    shoulder_right: str
    crossing: tuple[float, float] | None  # Z range of a side street, if any


def _ground(canvas: Canvas, rng, style: SceneStyle, layout: _StreetLayout):
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
    canvas.paint(plane & beyond, class_id("terrain"), z, jitter(rng, (0.42, 0.45, 0.22)), texture=2.0)
    for side_mask, kind in ((side_left, layout.shoulder_left), (side_right, layout.shoulder_right)):
        color = {
            "sidewalk": jitter(rng, style.sidewalk_color),
            "drivable fallback": jitter(rng, (0.48, 0.40, 0.30)),
            "terrain": jitter(rng, (0.42, 0.45, 0.22)),
        }[kind]
        canvas.paint(plane & side_mask, class_id(kind), z, color, texture=1.5)
    road_color = jitter(rng, style.road_color, 0.04)
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


def _facades(canvas: Canvas, rng, style: SceneStyle, layout: _StreetLayout):
    """Building façades as vertical planes parallel to the road, with window grids."""
    cam = canvas.camera
    w = cam.width
    for side, x_plane in ((-1, layout.facade_left), (1, layout.facade_right)):
        valid, z_col, y_world = vertical_plane(cam, x_plane)
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
                    canvas.paint(seg, class_id("vegetation"), zc, jitter(rng, style.vegetation_color),
                                 texture=3.0, window=(slice(None), cs))
                z += length
                continue
            if layout.crossing is not None and layout.crossing[0] < z < layout.crossing[1]:
                z = layout.crossing[1]
                continue
            height = rng.uniform(*style.building_height)
            color = np.asarray(style.building_palette[rng.integers(len(style.building_palette))])
            color = jitter(rng, color * shade)
            painted = canvas.paint(in_segment & (yw < height), class_id("building"), zc, color,
                                   texture=1.0, window=(slice(None), cs))[:, cs]
            # Windows: a grid in façade coordinates (Z along the street, Y up); some lit at night.
            wz, wy = rng.uniform(2.5, 4.0), rng.uniform(2.8, 3.5)
            win = painted & (((zc - z) % wz) < wz * 0.45) & ((yw % wy) > wy * 0.4) & (yw > 3.0)
            canvas.albedo[:, cs][win] = jitter(rng, (0.12, 0.15, 0.20), 0.03)
            lit = win & (canvas.texture[:, cs] > rng.uniform(-0.02, 0.06))
            canvas.emissive[:, cs][lit] = True
            z += length


def _sky(canvas: Canvas, rng, style: SceneStyle):
    cam = canvas.camera
    h, w = canvas.labels.shape
    rows = np.arange(h, dtype=np.float32)[:, None, None]
    horizon_color = np.asarray(style.sky_color, np.float32) * 0.6 + 0.4
    zenith = jitter(rng, style.sky_color, 0.05)
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
    canvas = Canvas(camera, rng)
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

    ego_vehicle(canvas, rng)
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


def _sample_layout(rng, style: SceneStyle) -> _StreetLayout:
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
    return _StreetLayout(
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


def _bridge(canvas: Canvas, rng, style: SceneStyle, layout: _StreetLayout):
    """Sometimes (IDD-like scenes) a bridge across the whole street."""
    if style.bridge and rng.random() < style.bridge:
        z = rng.uniform(40, 90)
        canvas.box(layout.facade_left - 20, layout.facade_right + 20, 5.5, 7.5, z, class_id("bridge"),
                   jitter(rng, (0.55, 0.52, 0.48)))


def _street_furniture(canvas: Canvas, rng, style: SceneStyle, layout: _StreetLayout):
    """Trees, poles (signs, traffic lights, lamps), walls and fences, guard rails and billboards."""
    for _ in range(rng.integers(*style.trees, endpoint=True)):
        side = rng.choice([-1, 1])
        edge = layout.road_left if side < 0 else layout.road_right
        tree(canvas, rng, style, edge + side * layout.sidewalk * rng.uniform(0.5, 0.9), rng.uniform(6, 70))
    for _ in range(rng.integers(*style.poles, endpoint=True)):
        side = rng.choice([-1, 1])
        edge = layout.road_left if side < 0 else layout.road_right
        pole(canvas, rng, edge + side * rng.uniform(0.3, 0.8), rng.uniform(5, 60), rng.random() < 0.6)
    for side, edge in ((-1, layout.road_left), (1, layout.road_right)):
        if rng.random() < 0.35:
            z0 = rng.uniform(3, 20)
            kind = "wall" if rng.random() < 0.5 else "fence"
            barrier(canvas, rng, edge + side * layout.sidewalk, z0, z0 + rng.uniform(5, 30), kind)
    if style.guard_rail and rng.random() < style.guard_rail:
        side = rng.choice([-1, 1])
        x_rail = (layout.road_left if side < 0 else layout.road_right) + side * 0.3
        barrier(canvas, rng, x_rail, 2.0, 60.0, "guard rail")
    for _ in range(rng.integers(*style.billboards, endpoint=True)):
        side = rng.choice([-1, 1])
        x_b = (layout.facade_left if side < 0 else layout.facade_right) - side * 0.5
        z_b = rng.uniform(10, 50)
        canvas.box(x_b - 0.1, x_b + 0.1, 0.0, 4.0, z_b, class_id("pole"), (0.3, 0.3, 0.3))
        canvas.box(x_b - 2.5, x_b + 2.5, 4.0, 6.5, z_b - 0.01, class_id("billboard"),
                   jitter(rng, rng.uniform(0.1, 0.95, 3), 0.0), texture=2.5)


def _vehicles(canvas: Canvas, rng, style: SceneStyle, layout: _StreetLayout):
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
        car(canvas, rng, x, rng.uniform(8, 70), facing_camera=x < 0 and not parked, kind=kind)
    if rng.random() < style.train:
        tram(canvas, rng, layout.centre)
    for _ in range(rng.integers(*style.autorickshaws, endpoint=True)):
        x = rng.choice(lanes) if len(lanes) else layout.centre
        autorickshaw(canvas, rng, x + rng.uniform(-0.8, 0.8), rng.uniform(5, 40))
    for _ in range(rng.integers(*style.two_wheelers, endpoint=True)):
        x = rng.uniform(layout.road_left + 0.5, layout.road_right - 0.5)
        two_wheeler(canvas, rng, x, rng.uniform(9, 45), motor=rng.random() < 0.5)


def _pedestrians(canvas: Canvas, rng, style: SceneStyle, layout: _StreetLayout):
    """People on the sidewalks, a few crossing the road."""
    for _ in range(rng.integers(*style.persons, endpoint=True)):
        side = rng.choice([-1, 1])
        edge = layout.road_left if side < 0 else layout.road_right
        x = edge + side * layout.sidewalk * rng.uniform(0.2, 0.9)
        if rng.random() < 0.15:  # crossing the road
            x = rng.uniform(layout.road_left, layout.road_right)
        person(canvas, rng, x, rng.uniform(4, 40))


def _anomalies(canvas: Canvas, rng, layout: _StreetLayout, count: int) -> np.ndarray | None:
    """``count`` out-of-distribution objects on the road; the mask of what they painted (None if none)."""
    if not count:
        return None
    anomaly_mask = np.zeros(canvas.labels.shape, dtype=bool)
    for _ in range(count):
        x = rng.uniform(layout.road_left + 1.0, layout.road_right - 1.0)
        anomaly_mask |= anomaly_object(canvas, rng, x, rng.uniform(7, 30))
    return anomaly_mask
