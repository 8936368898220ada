"""envs/*.yaml (conda envs for cluster users) must pin exactly what requirements.lock pins."""

import re
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
STAGES = ("data", "models", "generate", "evaluate", "calibrate", "stress", "detect", "analyse", "report")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_pins() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"requirements.lock: '{line}' is not an exact pin"
            pins[canonical(name)] = version
    return pins


def test_lock_pins_the_verified_core():
    pins = lock_pins()
    assert pins["torch"] == "2.13.0"  # the PyPI build, not the +cpu local wheel
    assert pins["torchvision"] == "0.28.0"
    assert pins["mmcv"] == "2.1.0" and pins["mmsegmentation"] == "1.2.2" and pins["mmdet"] == "3.3.0"
    assert int(pins["setuptools"].split(".")[0]) < 81
    assert pins["snakemake"].startswith("9.")
    assert "imagecorruptions" not in pins and "imagecorruptions-imaug" in pins


def test_installed_stack_is_the_lock():
    from importlib import metadata

    for name, version in lock_pins().items():
        assert metadata.version(name) == version, name


@pytest.mark.parametrize("stage", STAGES)
def test_env_file_agrees_with_lock(stage):
    env = yaml.safe_load((REPO / "envs" / f"{stage}.yaml").read_text())
    assert env["channels"][-1] == "nodefaults"
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    assert f"python={sys.version_info.major}.{sys.version_info.minor}" in conda
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    pins = lock_pins()
    requirements = [line for line in pip if not line.startswith("--")]
    assert requirements, stage
    for line in requirements:
        name, _, version = line.partition("==")
        locked = pins.get(canonical(name))
        assert locked == version, f"envs/{stage}.yaml pins {line}, lock has {locked}"


def test_every_rule_uses_a_stage_env():
    for rules in (REPO / "workflow" / "rules").glob("*.smk"):
        for env in re.findall(r'conda:\s*"([^"]+)"', rules.read_text()):
            assert (rules.parent / env).resolve().parent == REPO / "envs", env
            assert (rules.parent / env).resolve().stem in STAGES
