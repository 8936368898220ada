"""The mmsegmentation model zoo, as its own metafiles describe it.

Every config folder that mmsegmentation ships (``mmseg/.mim/configs/<method>/``) has a
``metafile.yaml`` listing its released models: name, config, checkpoint URL and the reported
results. A zoo model in segrel's config is one of those names; this module resolves it, so
the paper config names ~40 models without copying URLs or scores by hand. OpenMMLab checkpoint
file names end in the first 8 hex digits of the file's SHA-256 (``..._20210726_101530-8ffa8fda.pth``,
mmengine's publish_model), which is what a download is verified against.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml


@dataclass(frozen=True)
class ZooModel:
    name: str
    config: str  # relative to mmseg's configs folder, e.g. segformer/segformer_mit-b0_....py
    weights: str  # checkpoint URL
    dataset: str  # the dataset its reported result is on, e.g. Cityscapes
    score: float | None  # the reported result (%), when the metafile gives one: mIoU (mmseg), box AP (mmdet)
    family: str = ""  # the metafile's collection, e.g. Mask2Former

    @property
    def sha256_prefix(self) -> str:
        """The checksum prefix in the checkpoint's file name.

        >>> ZooModel("m", "c.py", "https://x/y_20210726_101530-8ffa8fda.pth", "ADE20K", None).sha256_prefix
        '8ffa8fda'
        """
        match = re.search(r"-([0-9a-f]{8})\.pth$", self.weights)
        if match is None:
            raise ValueError(f"{self.weights} does not end in '-<8 hex digits>.pth': no checksum to verify against")
        return match.group(1)


def _configs_dir() -> Path:
    from segrel.core.packages import mmseg_package_dir

    return mmseg_package_dir() / ".mim" / "configs"


@dataclass(frozen=True)
class Metafiles:
    """Which metafiles a package ships and which result of theirs a model reports."""

    package: str  # for messages
    pattern: str  # relative to the configs folder
    metric: str  # the key of the reported result in ``Results.Metrics``
    task: str | None = None  # the result's ``Task`` (mmdet lists detection and mask results), None: any


#: mmsegmentation's: ``<method>/metafile.yaml``, mIoU
MMSEG_METAFILES = Metafiles("mmsegmentation", "*/metafile.yaml", "mIoU")


@lru_cache(maxsize=8)
def zoo_models(configs_dir: Path | None = None, metafiles: Metafiles = MMSEG_METAFILES) -> dict[str, ZooModel]:
    """Every released model of every shipped metafile, by name."""
    configs_dir = Path(configs_dir) if configs_dir else _configs_dir()
    models = {}
    for metafile in sorted(configs_dir.glob(metafiles.pattern)):
        # libyaml's loader: the 617 models in 0.12 s instead of 1.27 s (the paper config's dry run reads them)
        loaded = yaml.load(metafile.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        # a few of mmdet's are a bare list of models
        for entry in loaded if isinstance(loaded, list) else (loaded or {}).get("Models", []):
            if not entry.get("Weights"):
                continue
            results = entry.get("Results") or {}
            results = [results] if isinstance(results, dict) else results
            results = [result for result in results if metafiles.task in (None, result.get("Task"))] or [{}]
            score = (results[0].get("Metrics") or {}).get(metafiles.metric)
            models[entry["Name"]] = ZooModel(
                name=entry["Name"], config=_config_path(entry["Config"], metafile.parent.name),
                weights=entry["Weights"], dataset=results[0].get("Dataset", ""),
                score=float(score) if score is not None else None, family=entry.get("In Collection", ""))
    return models


def _config_path(config: str, folder: str) -> str:
    """A metafile's ``Config`` relative to the configs folder (a few mmdet entries name the file only).

    >>> _config_path("configs/retinanet/r.py", "retinanet"), _config_path("m.py", "albu_example")
    ('retinanet/r.py', 'albu_example/m.py')
    """
    path = Path(config)
    return str(path.relative_to("configs")) if path.parts[0] == "configs" else str(Path(folder) / path)


def resolve(name: str, configs_dir: Path | None = None, metafiles: Metafiles = MMSEG_METAFILES) -> ZooModel:
    """The zoo model called ``name``; an unknown name lists the closest ones."""
    models = zoo_models(configs_dir, metafiles)
    if name in models:
        return models[name]
    close = difflib.get_close_matches(name, models, n=5, cutoff=0.5)
    hint = f"; close matches: {', '.join(close)}" if close else ""
    raise KeyError(f"no model named {name!r} in {metafiles.package}'s metafiles ({len(models)} models){hint}")


def select(dataset: str, min_miou: float = 0.0, per_family: str = "all",
           configs_dir: Path | None = None) -> list[ZooModel]:
    """The released models whose reported result is on ``dataset`` (case-insensitive) with an
    mIoU of at least ``min_miou`` (%): all of them, or (``per_family`` "best") the best of each
    family (metafile collection; ties to the first name). Sorted by name."""
    if per_family not in ("all", "best"):
        raise ValueError(f"per_family must be 'all' or 'best', not {per_family!r}")
    chosen = [model for model in zoo_models(configs_dir).values()
              if model.dataset.lower() == dataset.lower() and model.score is not None and model.score >= min_miou]
    if per_family == "best":
        best = {}
        for model in sorted(chosen, key=lambda model: model.name):
            if model.family not in best or model.score > best[model.family].score:
                best[model.family] = model
        chosen = list(best.values())
    return sorted(chosen, key=lambda model: model.name)


def config_name(zoo_name: str) -> str:
    """A zoo name as a segrel model name (letters, digits, _ and -).

    >>> config_name("fcn_hr18_4xb2-40k_cityscapes-512x1024")
    'fcn_hr18_4xb2-40k_cityscapes-512x1024'
    >>> config_name("knet-s3_swin-l_upernet_8xb2-adamw-80k_ade20k-640x640")
    'knet-s3_swin-l_upernet_8xb2-adamw-80k_ade20k-640x640'
    >>> config_name("x.y z")
    'x_y_z'
    """
    return re.sub(r"[^A-Za-z0-9_-]", "_", zoo_name)


OPENMMLAB_DOWNLOADS = "https://download.openmmlab.com/"


#: a zoo mirror's account: environment variables <PREFIX>_USERNAME / _PASSWORD, else ~/.netrc
#: (never in the mirror URL)
MIRROR_ACCOUNT_PREFIX = "ZOO_MIRROR"


def checkpoint_url(model: ZooModel, mirror: str | None = None) -> str:
    """Where to download ``model``'s checkpoint: OpenMMLab's URL, or the same path on a mirror.

    >>> m = ZooModel("m", "c.py", OPENMMLAB_DOWNLOADS + "mmsegmentation/v0.5/m-0123abcd.pth", "Cityscapes", 70.0)
    >>> checkpoint_url(m, "http://mirror.local/openmmlab/")
    'http://mirror.local/openmmlab/mmsegmentation/v0.5/m-0123abcd.pth'
    """
    if not mirror:
        return model.weights
    if not model.weights.startswith(OPENMMLAB_DOWNLOADS):
        raise ValueError(f"{model.weights} is not under {OPENMMLAB_DOWNLOADS}: a mirror cannot serve it")
    return mirror.rstrip("/") + "/" + model.weights.removeprefix(OPENMMLAB_DOWNLOADS)


def prepare(model: ZooModel, config_out, checkpoint_out, *, mirror: str | None = None, log=print,
            configs_dir: Path | None = None) -> None:
    """A zoo model as the models stage leaves every model: its inference config (from
    ``configs_dir``, mmseg's by default) and its checkpoint, downloaded once and verified against
    the checksum in its file name."""
    from segrel.data.download import fetch, optional_credentials
    from segrel.models.segmentors import mmseg_config_dir, write_inference_config

    url = checkpoint_url(model, mirror)
    account = (f"{MIRROR_ACCOUNT_PREFIX}_USERNAME", f"{MIRROR_ACCOUNT_PREFIX}_PASSWORD")
    auth = optional_credentials(url, *account) if mirror else None
    fetch(url, checkpoint_out, checksum=f"sha256:{model.sha256_prefix}", auth=auth, log=log)
    write_inference_config(Path(configs_dir or mmseg_config_dir()) / model.config, config_out)
