"""Files that installed packages ship (configs, metafiles, tokenizer merges), found without
importing the packages."""

from __future__ import annotations


def mmseg_package_dir():
    """mmsegmentation's installed package folder, found without importing it (an import costs
    ~3 s: torch, mmcv's compiled ops, mmengine) — for the files it ships: configs, metafiles,
    CLIP's BPE merges."""
    from importlib.util import find_spec
    from pathlib import Path

    spec = find_spec("mmseg")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("mmsegmentation is not installed: pip install mmsegmentation==1.2.2")
    return Path(spec.submodule_search_locations[0])
