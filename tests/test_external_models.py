"""A user's own models (source: url / local): verified checkpoints, the same inference config."""

import functools
import hashlib
import os
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from segrel.data.download import DownloadError
from segrel.models.external import ExternalModel, prepare

PAYLOAD = b"checkpoint bytes" * 1000
SEGFORMER = "segformer/segformer_mit-b0_8xb1-160k_cityscapes-1024x1024.py"


def users_config(tmp_path: Path) -> Path:
    """A config as a user keeps it: their own file, inheriting from mmseg's shipped one."""
    from segrel.models.segmentors import mmseg_config_dir

    path = tmp_path / "configs" / "my_segformer.py"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"_base_ = [{str(mmseg_config_dir() / SEGFORMER)!r}]\n"
                    "model = dict(decode_head=dict(channels=128))\n")
    return path


def assert_inference_config(path: Path) -> None:
    from mmengine.config import Config

    cfg = Config.fromfile(str(path))
    assert "SyncBN" not in str(cfg.model) and "Pretrained" not in str(cfg.model)
    assert cfg.model["backbone"]["type"] == "MixVisionTransformer" and cfg.model["decode_head"]["channels"] == 128


@pytest.fixture
def server(tmp_path):
    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    root = tmp_path / "served"
    root.mkdir()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()


def test_a_url_model_is_downloaded_verified_and_refused_when_the_bytes_differ(tmp_path, server):
    root, url = server
    (root / "model.pth").write_bytes(PAYLOAD)
    digest = hashlib.sha256(PAYLOAD).hexdigest()
    model = ExternalModel("url", str(users_config(tmp_path)), url + "model.pth", digest)
    prepare(model, tmp_path / "m" / "m.py", tmp_path / "m" / "m.pth", log=lambda message: None)
    assert (tmp_path / "m" / "m.pth").read_bytes() == PAYLOAD
    assert_inference_config(tmp_path / "m" / "m.py")

    (root / "model.pth").write_bytes(PAYLOAD + b"!")
    short = ExternalModel("url", model.config, model.checkpoint, digest[:8])
    with pytest.raises(DownloadError, match="checksum mismatch"):
        prepare(short, tmp_path / "n" / "n.py", tmp_path / "n" / "n.pth", log=lambda message: None)
    assert not (tmp_path / "n").exists() or not any((tmp_path / "n").iterdir())


def test_a_local_model_is_verified_where_it_is(tmp_path):
    checkpoint = tmp_path / "weights" / "model.pth"
    checkpoint.parent.mkdir()
    checkpoint.write_bytes(PAYLOAD)
    model = ExternalModel("local", str(users_config(tmp_path)), str(checkpoint), hashlib.sha256(PAYLOAD).hexdigest())
    prepare(model, tmp_path / "m" / "m.py", log=lambda message: None)
    assert_inference_config(tmp_path / "m" / "m.py")
    assert not (tmp_path / "m" / "m.pth").exists()

    checkpoint.write_bytes(PAYLOAD[::-1])
    with pytest.raises(DownloadError, match="checksum mismatch"):
        prepare(model, tmp_path / "n" / "n.py", log=lambda message: None)
    assert not (tmp_path / "n" / "n.py").exists()


def test_config_refuses_missing_files_other_sources_keys_and_a_missing_checksum(tmp_path):
    from segrel.config import ConfigError, validate_config

    schema = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml"
    config = str(users_config(tmp_path))

    def refused(model: dict, match: str):
        with pytest.raises(ConfigError, match=match):
            validate_config({"models": {"m": {"family": "SegFormer", **model}}}, schema)

    refused({"source": "local", "config": config, "checkpoint": str(tmp_path / "gone.pth"), "sha256": "0" * 8},
            r"models\.m\.checkpoint': no file .*gone\.pth")
    refused({"source": "url", "config": str(tmp_path / "gone.py"), "checkpoint": "https://x/m.pth",
             "sha256": "0" * 8}, r"models\.m\.config': no file")
    refused({"source": "url", "config": config, "checkpoint": "/data/m.pth", "sha256": "0" * 8},
            "not an http\\(s\\) URL; a file on disk is source: local")
    refused({"source": "url", "config": config, "checkpoint": "https://x/m.pth"}, "'sha256' is a required property")
    refused({"source": "url", "config": config, "checkpoint": "https://x/m.pth", "sha256": "0" * 8,
             "base": SEGFORMER}, "source url does not read base")


@pytest.mark.workflow
def test_a_local_model_re_runs_when_its_checkpoint_is_replaced(snakemake, tmp_path):
    checkpoint = tmp_path / "model.pth"
    checkpoint.write_bytes(PAYLOAD)
    config = {"models": {"mine": {"family": "SegFormer", "source": "local", "config": str(users_config(tmp_path)),
                                  "checkpoint": str(checkpoint), "sha256": hashlib.sha256(PAYLOAD).hexdigest()},
                         "theirs": {"family": "SegFormer", "source": "url", "config": str(users_config(tmp_path)),
                                    "checkpoint": "http://127.0.0.1:9/m.pth", "sha256": "0" * 8}}}
    planned = snakemake(tmp_path, config, "-n", "--cores", "1", "models").stdout
    assert "verify_local_model" in planned and "fetch_url_model" in planned and "train_demo_model" not in planned
    snakemake(tmp_path, config, "--cores", "1", "resources/models/mine/mine.py")
    assert_inference_config(tmp_path / "resources" / "models" / "mine" / "mine.py")
    assert "Nothing to be done" in snakemake(tmp_path, config, "-n", "--cores", "1",
                                              "resources/models/mine/mine.py").stdout
    later = time.time() + 60  # after the config it made
    checkpoint.write_bytes(PAYLOAD[::-1])
    os.utime(checkpoint, (later, later))
    result = snakemake(tmp_path, config, "--cores", "1", "resources/models/mine/mine.py", check=False)
    assert result.returncode != 0 and not (tmp_path / "resources" / "models" / "mine" / "mine.py").exists()
    log = tmp_path / "results" / "logs" / "models" / "verify_local_model" / "mine.log"
    assert "checksum mismatch" in log.read_text()
