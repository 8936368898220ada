"""What a rule script writes to its log: messages and progress bars, on stderr (the script
points stderr at the rule's ``log:`` file first thing)."""

from __future__ import annotations

import sys


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def progress(items, desc: str | None = None):
    """tqdm to stderr (the rule's log), a line every few seconds rather than every item."""
    from tqdm import tqdm

    return tqdm(items, desc=desc, mininterval=5.0, file=sys.stderr, ascii=True)
