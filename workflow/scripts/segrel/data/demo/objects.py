"""The things the demo scenes are made of, each painted on a :class:`~segrel.data.demo.canvas.Canvas`
at a world position: trees, poles, vehicles, people, barriers, the ego vehicle, anomalies."""

from __future__ import annotations

import numpy as np

from segrel.data.demo.canvas import Canvas, Light, class_id, jitter, vertical_plane


def tree(canvas: Canvas, rng, style, x, z):
    trunk_h = rng.uniform(2.0, 4.0)
    color = jitter(rng, style.vegetation_color)
    canvas.box(x - 0.15, x + 0.15, 0.0, trunk_h, z, class_id("vegetation"), (0.25, 0.18, 0.12))
    radius = rng.uniform(1.2, 2.8)
    canvas.disc(x, trunk_h + radius * 0.7, radius, radius * rng.uniform(0.8, 1.2), z - 0.01,
                class_id("vegetation"), color, texture=3.0)


def pole(canvas: Canvas, rng, x, z, with_lamp: bool):
    height = rng.uniform(4.0, 8.0)
    canvas.box(x - 0.08, x + 0.08, 0.0, height, z, class_id("pole"), jitter(rng, (0.40, 0.40, 0.42)))
    kind = rng.integers(3)
    if kind == 0:  # traffic sign
        shape_color = [(0.1, 0.2, 0.7), (0.8, 0.1, 0.1), (0.9, 0.8, 0.1)][rng.integers(3)]
        canvas.disc(x, 2.6, 0.35, 0.35, z - 0.02, class_id("traffic sign"), jitter(rng, shape_color), texture=0.2)
    elif kind == 1:  # traffic light
        canvas.box(x - 0.18, x + 0.18, 3.2, 4.1, z - 0.02, class_id("traffic light"), (0.08, 0.08, 0.08), texture=0.2)
        lamp = [(0.9, 0.1, 0.05), (0.95, 0.7, 0.05), (0.1, 0.9, 0.3)][rng.integers(3)]
        canvas.disc(x, 3.9, 0.09, 0.09, z - 0.03, class_id("traffic light"), lamp, texture=0.0, emissive=True)
        canvas.lights.append(Light((x, 3.9, z), lamp, 0.6, "traffic"))
    if with_lamp:
        canvas.box(x - 0.5, x + 0.1, height - 0.15, height, z - 0.01, class_id("pole"), (0.85, 0.85, 0.75),
                   emissive=True)
        canvas.lights.append(Light((x - 0.2, height, z), (1.0, 0.8, 0.5), 3.0, "lamp"))


def car(canvas: Canvas, rng, x, z, facing_camera: bool, kind: str = "car"):
    dims = {"car": (1.8, 1.5), "truck": (2.5, 3.6), "bus": (2.55, 3.2), "caravan": (2.3, 2.8)}
    width, height = dims[kind]
    width *= rng.uniform(0.92, 1.08)
    label = class_id(kind)
    instance = canvas.new_instance()
    body = jitter(rng, rng.uniform(0.05, 0.9, 3), 0.0)
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


def autorickshaw(canvas: Canvas, rng, x, z):
    label = class_id("autorickshaw")
    instance = canvas.new_instance()
    green = jitter(rng, (0.15, 0.45, 0.15))
    canvas.box(x - 0.7, x + 0.7, 0.25, 1.1, z, label, green, instance)
    canvas.box(x - 0.75, x + 0.75, 1.1, 1.75, z, label, (0.9, 0.8, 0.1), instance)  # yellow canopy
    canvas.box(x - 0.55, x + 0.55, 1.15, 1.6, z - 0.01, label, (0.05, 0.05, 0.05), instance)
    for wheel_x in (x - 0.55, x + 0.55):
        canvas.box(wheel_x - 0.12, wheel_x + 0.12, 0.0, 0.3, z - 0.02, label, (0.03, 0.03, 0.03), instance)


def person(canvas: Canvas, rng, x, z, label_name="person", base_y=0.0, instance=None):
    label = class_id(label_name)
    instance = instance or canvas.new_instance()
    height = rng.uniform(1.55, 1.9)
    top = jitter(rng, rng.uniform(0.05, 0.9, 3), 0.0)
    legs = jitter(rng, (0.15, 0.15, 0.25))
    skin = jitter(rng, (0.75, 0.55, 0.42), 0.15)
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


def two_wheeler(canvas: Canvas, rng, x, z, motor: bool):
    label = class_id("motorcycle" if motor else "bicycle")
    instance = canvas.new_instance()
    frame = jitter(rng, rng.uniform(0.05, 0.8, 3), 0.0)
    canvas.box(x - 0.12, x + 0.12, 0.0, 0.7, z, label, (0.05, 0.05, 0.05), instance)  # wheel seen end-on
    canvas.box(x - 0.3, x + 0.3, 0.55, 0.95 if motor else 0.85, z - 0.01, label, frame, instance)
    person(canvas, rng, x, z + 0.05, "rider", base_y=0.85)
    if motor:
        canvas.lights.append(Light((x, 0.8, z - 0.05), (0.9, 0.05, 0.02), 0.3, "taillight"))


BARRIER_COLORS = {"wall": (0.55, 0.52, 0.50), "fence": (0.45, 0.40, 0.36), "guard rail": (0.65, 0.66, 0.68)}


def barrier(canvas: Canvas, rng, x_plane: float, z0: float, z1: float, kind: str):
    """A wall, fence or guard rail along the road between depths z0 and z1."""
    valid, z_col, y_world = vertical_plane(canvas.camera, x_plane)
    height = rng.uniform(0.6, 0.9) if kind == "guard rail" else rng.uniform(0.9, 2.0)
    mask = valid & (z_col >= z0) & (z_col < z1) & (y_world >= 0) & (y_world < height)
    painted = canvas.paint(mask, class_id(kind), z_col, jitter(rng, BARRIER_COLORS[kind]), texture=1.2)
    if kind != "wall":  # fences are mostly holes, but datasets label their whole extent
        canvas.albedo[painted & ((z_col % 0.6) < 0.3)] *= 0.6


def ego_vehicle(canvas: Canvas, rng):
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
    canvas.albedo[mask] = jitter(rng, (0.08, 0.08, 0.1), 0.03)
    canvas.emissive[mask] = False


def tram(canvas: Canvas, rng, x: float):
    """A tram seen from behind, in the middle of the road."""
    label = class_id("train")
    z = rng.uniform(15, 50)
    instance = canvas.new_instance()
    canvas.box(x - 1.3, x + 1.3, 0.4, 3.6, z, label, jitter(rng, (0.8, 0.75, 0.2)), instance)
    canvas.box(x - 1.1, x + 1.1, 1.8, 3.0, z - 0.01, label, (0.1, 0.1, 0.12), instance)


def anomaly_object(canvas: Canvas, rng, x: float, z: float) -> np.ndarray:
    """An object that has no place on a Cityscapes road: an animal, a rock, furniture, debris.

    Shapes and textures are deliberately unlike any training class (saturated colours,
    stripes, checkerboards) so that they are out-of-distribution for the demo models.
    """
    label = class_id("anomaly")
    instance = canvas.new_instance()
    cam = canvas.camera
    kind = rng.integers(3)
    color = jitter(rng, rng.uniform(0.0, 1.0, 3), 0.0)
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
