"""Benchmark: the CPU Snakemake's own process spends scheduling while jobs wait for cores.

Snakemake 9 wakes its scheduler once per ``--max-jobs-per-timespan`` window (default ``100/1s``)
for as long as jobs run, and each wake-up stats every input of every ready job and runs the job
selection. On a 2-core demo with dozens of ready jobs (each with ~30 library files as inputs)
that took a third of a core. The workflow profile (``profiles/default/config.yaml``) lengthens
the window; a finished job still wakes the scheduler at once.

Baseline, measured in the same run: Snakemake's default window (``--workflow-profile none``).
Candidate: the repository's workflow profile. Each runs a throw-away workflow of ``--jobs`` jobs
that only sleep, each with ``--inputs`` input files, on 2 cores; reported: the Snakemake
process's CPU seconds (with its jobs' `sleep`s: ~0) and wall, and their ratios.

Usage: .venv/bin/python benchmarks/scheduler_overhead.py [--jobs 30] [--inputs 40] [--sleep 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SNAKEFILE = """
INPUTS = [f"inputs/{{i}}.txt" for i in range({inputs})]

rule all:
    input: expand("out/{{job}}.txt", job=range({jobs}))

rule wait:
    input: INPUTS
    output: "out/{{job}}.txt"
    shell: "sleep {sleep} && touch {{output}}"
"""


def run(workdir: Path, profile: list[str]) -> tuple[float, float]:
    """(CPU seconds of the Snakemake process and its children, wall seconds) of one full run."""
    for out in (workdir / "out").glob("*"):
        out.unlink()
    snakemake = Path(sys.executable).with_name("snakemake")
    start = time.perf_counter()
    process = subprocess.Popen([str(snakemake), "--cores", "2", "--quiet", *profile], cwd=workdir,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    if status:
        raise RuntimeError(f"snakemake failed in {workdir}")
    return usage.ru_utime + usage.ru_stime, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=30)
    parser.add_argument("--inputs", type=int, default=40)
    parser.add_argument("--sleep", type=float, default=2.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as folder:
        workdir = Path(folder)
        (workdir / "inputs").mkdir()
        for i in range(args.inputs):
            (workdir / "inputs" / f"{i}.txt").write_text(str(i))
        (workdir / "Snakefile").write_text(SNAKEFILE.format(jobs=args.jobs, inputs=args.inputs, sleep=args.sleep))
        baseline = run(workdir, ["--workflow-profile", "none"])
        candidate = run(workdir, ["--workflow-profile", str(REPO / "profiles" / "default")])
    print(f"{args.jobs} jobs of {args.sleep} s, {args.inputs} inputs each, 2 cores")
    print(f"Snakemake's default window: {baseline[0]:.1f} CPU-s, {baseline[1]:.1f} s wall")
    print(f"profiles/default:           {candidate[0]:.1f} CPU-s, {candidate[1]:.1f} s wall")
    print(f"ratio (profile / default): CPU {candidate[0] / baseline[0]:.2f}, wall {candidate[1] / baseline[1]:.2f}")


if __name__ == "__main__":
    main()
