"""Per-image depth for the 3D corruptions and the physics proxies: exact from the files a dataset
ships (Cityscapes' stereo disparity and camera calibration; the demo writes the same files from
its true depth).

Cityscapes (README of its scripts): disparity d = (p - 1) / 256 for a 16-bit value p > 0, p = 0
invalid; depth = baseline * fx / d (metres); the camera file gives baseline, fx, fy, u0, v0.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from segrel.stress.catalogue import FORMATS_WITH_DEPTH


@dataclass(frozen=True)
class Depth:
    """Depth (metres; inf where unknown, e.g. the sky) and the intrinsics that turn it into ray length."""

    depth: np.ndarray  # (H, W) float64
    fx: float
    fy: float
    u0: float
    v0: float

    def distance(self) -> np.ndarray:
        """Euclidean distance from the camera along each pixel's ray (what fog attenuates over)."""
        h, w = self.depth.shape
        xs = (np.arange(w) - self.u0) / self.fx
        ys = (np.arange(h) - self.v0) / self.fy
        return self.depth * np.sqrt(1.0 + xs[None, :] ** 2 + ys[:, None] ** 2)


def _cityscapes_files(image: Path) -> tuple[Path, Path]:
    """The disparity and camera files of a leftImg8bit image (same split / city / frame)."""
    parts = image.parts
    if "leftImg8bit" not in parts or not image.name.endswith("_leftImg8bit.png"):
        raise ValueError(f"{image}: not a Cityscapes leftImg8bit image, so it has no disparity file")
    root = Path(*parts[: parts.index("leftImg8bit")])
    relative = image.parent.relative_to(root / "leftImg8bit")
    stem = image.name[: -len("_leftImg8bit.png")]
    return (root / "disparity" / relative / f"{stem}_disparity.png",
            root / "camera" / relative / f"{stem}_camera.json")


def cityscapes_depth(image: str | Path) -> Depth:
    """Depth of a Cityscapes image from its disparity and camera files (one error naming a missing
    file and the packages that hold them)."""
    from PIL import Image

    disparity_path, camera_path = _cityscapes_files(Path(image))
    for path in (disparity_path, camera_path):
        if not path.is_file():
            raise FileNotFoundError(f"{path}: missing; depth-based corruptions of Cityscapes need its disparity_"
                                    "trainvaltest.zip and camera_trainvaltest.zip (datasets.<name>.depth: true)")
    with Image.open(disparity_path) as file:
        encoded = np.asarray(file, dtype=np.float64)
    camera = json.loads(camera_path.read_text())
    intrinsic, baseline = camera["intrinsic"], camera["extrinsic"]["baseline"]
    disparity = (encoded - 1.0) / 256.0
    valid = disparity > 0
    depth = np.where(valid, baseline * intrinsic["fx"] / np.where(valid, disparity, 1.0), np.inf)
    return Depth(depth, intrinsic["fx"], intrinsic["fy"], intrinsic["u0"], intrinsic["v0"])


def image_depth(fmt: str, image: str | Path) -> Depth:
    """The depth of ``image`` of a dataset of format ``fmt`` (one of :data:`FORMATS_WITH_DEPTH`)."""
    if fmt != "cityscapes":
        raise ValueError(f"a {fmt} dataset ships no depth; depth-based corruptions need one of "
                         f"{', '.join(FORMATS_WITH_DEPTH)}")
    return cityscapes_depth(image)
