"""Atomic outputs and deterministic image writing.

Every file or directory a rule produces appears whole or not at all: it is written under a
temporary name next to its destination and renamed into place (``os.replace`` is atomic on
one filesystem), so an interrupted job never leaves something that looks finished.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from PIL import Image


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextmanager
def atomic_directory(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a scratch directory that replaces ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.name}.*.partial"):  # a killed job's (SLURM time limit)
        shutil.rmtree(stale, ignore_errors=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent))
    os.chmod(scratch, 0o777 & ~_umask())  # mkdtemp makes it private; outputs follow the umask
    try:
        yield scratch
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    if path.exists():
        shutil.rmtree(path)
    os.replace(scratch, path)


@contextmanager
def atomic_file(path: str | os.PathLike, mode: str = "w") -> Iterator:
    """Open a temporary file that replaces ``path`` when closed without error."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, scratch = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".partial", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as handle:
            yield handle
        os.replace(scratch, path)
    except BaseException:
        Path(scratch).unlink(missing_ok=True)
        raise


def save_png(path: Path, array: np.ndarray) -> None:
    """Write a PNG (uint8 grey/RGB or uint16 grey). Same array -> same bytes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if array.dtype == np.uint16:
        image = Image.fromarray(array)  # 16-bit greyscale, as Cityscapes' instanceIds
    else:
        image = Image.fromarray(np.ascontiguousarray(array, dtype=np.uint8))
    image.save(path, format="PNG", optimize=False, compress_level=3)


def save_jpeg(path: Path, array: np.ndarray, quality: int = 95) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, format="JPEG", quality=quality, subsampling=0)


def merge_trees(sources, destination: Path, ignore=(".snakemake_timestamp",)) -> int:
    """Hard-link (or copy, across filesystems) every file of ``sources`` into ``destination``,
    keeping relative paths; two sources with the same file is an error. Returns the file count.
    Files named in ``ignore`` (Snakemake's marker in directory outputs) are left out."""
    destination = Path(destination)
    count = 0
    for source in map(Path, sources):
        for path in sorted(p for p in source.rglob("*") if p.is_file() and p.name not in ignore):
            target = destination / path.relative_to(source)
            if target.exists():
                raise FileExistsError(f"{path.relative_to(source)} is in more than one of {list(map(str, sources))}")
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(path, target)
            except OSError:
                shutil.copy2(path, target)
            count += 1
    return count


def save_npz(file, arrays: dict[str, np.ndarray]) -> None:
    """``np.savez_compressed(file, **arrays)`` at zlib level 1 instead of numpy's 6: an evaluation
    state (~5 MB of mostly empty int64 histograms) saves in 23 ms instead of 79 ms, 20% larger
    (~130 states per demo model); ``np.load`` reads it alike."""
    import zipfile

    with zipfile.ZipFile(file, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, value in arrays.items():
            with archive.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(value), allow_pickle=False)
