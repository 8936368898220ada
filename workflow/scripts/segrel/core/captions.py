"""The caption tables the generate stage writes (``results/generate/captions/<set>.csv``)."""

from __future__ import annotations


def read_captions(path):
    """image name -> caption (a pandas Series); an empty caption stays an empty string."""
    import pandas as pd

    return pd.read_csv(path, keep_default_na=False).set_index("image").caption
