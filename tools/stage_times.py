"""Per-stage and per-rule times of a finished run, from Snakemake's benchmark files.

    python tools/stage_times.py [results/benchmarks]

Prints the README's time table (markdown): jobs, the jobs' own wall and CPU times by stage
(``results/benchmarks/<stage>/<rule>[/...].tsv``), then the same by rule.
"""

from __future__ import annotations

import csv
import sys
from collections import defaultdict
from pathlib import Path


def job_times(root: Path) -> list[tuple[str, str, float, float]]:
    """(stage, rule, wall seconds, CPU seconds) of each benchmarked job (its last repeat)."""
    jobs = []
    for path in sorted(root.rglob("*.tsv")):
        with open(path, newline="") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        if not rows:
            continue
        stage, rule = path.relative_to(root).parts[:2]
        jobs.append((stage, rule.removesuffix(".tsv"), float(rows[-1]["s"]), float(rows[-1]["cpu_time"])))
    return jobs


def table(jobs, key) -> str:
    totals = defaultdict(lambda: [0, 0.0, 0.0])
    for job in jobs:
        total = totals[key(job)]
        total[0] += 1
        total[1] += job[2]
        total[2] += job[3]
    lines = ["| | jobs | job wall (min) | CPU (min) |", "|---|---|---|---|"]
    lines += [f"| {name} | {count} | {wall / 60:.1f} | {cpu / 60:.1f} |" for name, (count, wall, cpu) in totals.items()]
    count, wall, cpu = (sum(column) for column in zip(*totals.values()))
    return "\n".join([*lines, f"| total | {count} | {wall / 60:.1f} | {cpu / 60:.1f} |"])


if __name__ == "__main__":
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "results/benchmarks")
    jobs = job_times(root)
    stage_order = ["data", "models", "generate", "evaluate", "calibrate", "stress", "detect", "analyse"]
    jobs.sort(key=lambda job: (stage_order.index(job[0]) if job[0] in stage_order else len(stage_order), job[1]))
    print(table(jobs, key=lambda job: job[0]))
    print()
    print(table(jobs, key=lambda job: f"{job[0]}: {job[1]}"))
