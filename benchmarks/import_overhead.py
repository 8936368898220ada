"""Benchmark: what importing mmseg costs every job that loads or trains a segmentor.

``import mmseg.apis`` also imports mmdet (for mmseg's Mask2Former and MaskFormer heads),
transformers (mmengine registers its Adafactor; mmdet's GLIP text encoder), timm (mmseg's
TIMMBackbone) and seaborn (mmdet's tracking plots), each inside a try/except ImportError.

Baseline, measured in the same run: a fresh process's plain ``import mmseg.apis`` (after torch).
Candidate: ``segrel.models.segmentors.import_openmmlab("mmseg")``, what a job whose model needs
no mmdet part runs (and with "mmdet", a Mask2Former's). Each is a fresh interpreter, run in
turn for ``--repeats`` rounds; reported: the best wall time of each and the ratio to the baseline.

Usage: .venv/bin/python benchmarks/import_overhead.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

LIBRARY = Path(__file__).resolve().parents[1] / "workflow" / "scripts"
TIMED = """
import sys, time
sys.path.insert(0, {library!r})
import torch
start = time.perf_counter()
{statement}
print(time.perf_counter() - start)
"""
GUARDED = "from segrel.models.segmentors import import_openmmlab; import_openmmlab({})"
CANDIDATES = {
    "import mmseg.apis (baseline)": "import mmseg.apis",
    "import_openmmlab('mmseg')": GUARDED.format('"mmseg"'),
    "import_openmmlab('mmseg', 'mmdet')": GUARDED.format('"mmseg", "mmdet"'),
}


def timed(statement: str) -> float:
    script = TIMED.format(library=str(LIBRARY), statement=statement)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return float(result.stdout.split()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    times = {name: [] for name in CANDIDATES}
    for _ in range(args.repeats):
        for name, statement in CANDIDATES.items():
            times[name].append(timed(statement))
    baseline = min(next(iter(times.values())))
    for name, values in times.items():
        print(f"{name:32s} {min(values):6.2f} s   ratio {min(values) / baseline:.2f}")


if __name__ == "__main__":
    main()
