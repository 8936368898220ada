"""Seeds derived from a base seed and names, stable across processes, machines and job orders
(unlike Python's salted ``hash``): the same config gives the same bytes under any sharding."""

from __future__ import annotations

import zlib

import numpy as np


def seed_sequence(base_seed: int, *keys: object) -> np.random.SeedSequence:
    """A SeedSequence for one item (the demo's scenes spawn their scene and render seeds from it).

    >>> seed_sequence(0, "cityscapes", "val", 3).entropy == seed_sequence(0, "cityscapes", "val", 3).entropy
    True
    """
    return np.random.SeedSequence([int(base_seed)] + [zlib.crc32(str(key).encode()) for key in keys])


def image_seed(seed: int, *keys: str) -> int:
    """A 63-bit integer seed from a base seed and names (a generator's ``torch.Generator`` seed).

    >>> image_seed(0, "fog", "frankfurt_000000_000019") == image_seed(0, "fog", "frankfurt_000000_000019")
    True
    """
    return (seed * 0x9E3779B97F4A7C15 + zlib.crc32("/".join(keys).encode())) % (2**63)
