#!/usr/bin/env python3
"""Compare two runs of the workflow: every file under results/tables/ must be byte-equal.

    compare_runs.py RUN_A RUN_B [--under results/tables]

RUN_A and RUN_B are the two working directories (snakemake --directory). The tables hold
neither timestamps nor absolute paths (every figure's data table included), so a run on a
SLURM cluster must reproduce a local run byte for byte. Exit status 1, with the missing and
differing files listed (and the first differing line of each), when they are not equal.
"""

import argparse
import sys
from pathlib import Path


def files_under(root: Path) -> dict[str, Path]:
    return {str(path.relative_to(root)): path for path in sorted(root.rglob("*")) if path.is_file()}


def first_difference(a: Path, b: Path) -> str:
    lines_a = a.read_bytes().splitlines()
    lines_b = b.read_bytes().splitlines()
    for number, (line_a, line_b) in enumerate(zip(lines_a, lines_b), start=1):
        if line_a != line_b:
            return f"line {number}:\n      {line_a.decode(errors='replace')}\n      {line_b.decode(errors='replace')}"
    return f"{len(lines_a)} lines vs {len(lines_b)} lines"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_a", type=Path)
    parser.add_argument("run_b", type=Path)
    parser.add_argument("--under", default="results/tables", help="folder compared, relative to each run")
    args = parser.parse_args()

    root_a, root_b = args.run_a / args.under, args.run_b / args.under
    files_a, files_b = files_under(root_a), files_under(root_b)
    if not files_a:
        print(f"no files under {root_a}", file=sys.stderr)
        return 1

    problems = []
    for name in sorted(files_a.keys() - files_b.keys()):
        problems.append(f"only in {root_a}: {name}")
    for name in sorted(files_b.keys() - files_a.keys()):
        problems.append(f"only in {root_b}: {name}")
    for name in sorted(files_a.keys() & files_b.keys()):
        if files_a[name].read_bytes() != files_b[name].read_bytes():
            problems.append(f"differs: {name}, {first_difference(files_a[name], files_b[name])}")

    if problems:
        print(f"{args.under} of {args.run_a} and {args.run_b} differ:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 1
    print(f"{len(files_a)} files under {args.under} byte-equal in {args.run_a} and {args.run_b}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
