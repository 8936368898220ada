"""Shared timing for the benchmarks: candidate and baseline interleaved in one process."""

from __future__ import annotations

import time

import torch


def interleaved_min(functions: dict, repeats: int, device: str = "cpu") -> dict[str, float]:
    """Best wall time of each function over ``repeats`` rounds, run in turn within each round
    (drifting machine load hits all alike); CUDA work is synchronised before each clock read."""
    timings = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            start = time.perf_counter()
            function()
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            timings[name].append(time.perf_counter() - start)
    return {name: min(times) for name, times in timings.items()}
