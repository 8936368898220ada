"""Models a user brings: an mmseg config file and a checkpoint, from a URL or from disk.

RELIS (de Jorge et al. 2023) evaluates Segmenter ViT-L, UPerNet ConvNeXt-L and UPerNet Swin-L,
which its authors trained on Cityscapes themselves: mmseg's zoo releases no Cityscapes weights
of them. A user adds such a model as ``source: url`` (downloaded once, resumable) or
``source: local`` (read where it is, never copied: checkpoints of large models are ~1 GB), with
its SHA-256, checked as zoo checkpoints are: a file that does not match is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path

SOURCES = ("url", "local")


@dataclass(frozen=True)
class ExternalModel:
    source: str  # "url" or "local"
    config: str  # the user's mmseg config file
    checkpoint: str  # URL (source url) or file (source local)
    sha256: str  # the whole digest or its first 8+ hex digits

    def __post_init__(self):
        if self.source not in SOURCES:
            raise ValueError(f"source must be one of {', '.join(SOURCES)}, not {self.source!r}")


#: the config keys of a url / local model (besides family), ExternalModel's fields
KEYS = tuple(field.name for field in fields(ExternalModel))


def from_config(model: dict) -> ExternalModel:
    """The ExternalModel of a url / local ``models.<name>`` entry."""
    return ExternalModel(**{key: model.get(key) for key in KEYS})


def config_problems(name: str, model: ExternalModel) -> list[str]:
    """What can be checked before any job runs: the files exist, the URL is one urllib fetches."""
    key = f"config key 'models.{name}"
    problems = []
    if not Path(model.config).is_file():
        problems.append(f"{key}.config': no file {model.config} (the model's mmseg config, .py)")
    if model.source == "local" and not Path(model.checkpoint).is_file():
        problems.append(f"{key}.checkpoint': no file {model.checkpoint}; with a URL, use source: url")
    if model.source == "url" and not model.checkpoint.startswith(("https://", "http://")):
        problems.append(f"{key}.checkpoint': {model.checkpoint!r} is not an http(s) URL; a file on disk is "
                        "source: local")
    return problems


def prepare(model: ExternalModel, config_out, checkpoint_out=None, *, log=print) -> None:
    """Verify (source local) or download and verify (source url, into ``checkpoint_out``) the
    checkpoint, then write the inference config as for zoo models."""
    from segrel.data.download import fetch, verify
    from segrel.models.segmentors import write_inference_config

    checksum = f"sha256:{model.sha256}"
    if model.source == "url":
        fetch(model.checkpoint, checkpoint_out, checksum=checksum, log=log)
    else:
        verify(model.checkpoint, checksum, model.checkpoint)
        log(f"{model.checkpoint}: SHA-256 matches {model.sha256}")
    write_inference_config(model.config, config_out)
