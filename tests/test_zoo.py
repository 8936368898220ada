"""Zoo models resolved from the metafiles mmsegmentation ships (segrel.models.zoo). Expected values are
read by hand from mmseg 1.2.2's configs/*/metafile.yaml and ../shared/REFERENCE.md."""

import contextlib
from pathlib import Path

import pytest

from segrel.models import zoo
from segrel.models.segmentors import mmseg_config_dir


@pytest.mark.parametrize("name, config, miou, sha", [
    ("segformer_mit-b0_8xb1-160k_cityscapes-1024x1024", "segformer/segformer_mit-b0_8xb1-160k_cityscapes-1024x1024.py",
     76.54, "e7f88502"),
    ("bisenetv2_fcn_4xb4-160k_cityscapes-1024x1024", "bisenetv2/bisenetv2_fcn_4xb4-160k_cityscapes-1024x1024.py",
     73.21, None),
    ("pspnet_r18-d8_4xb2-80k_cityscapes-769x769", "pspnet/pspnet_r18-d8_4xb2-80k_cityscapes-769x769.py", 75.90, None),
])
def test_resolves_names_to_config_weights_and_reported_miou(name, config, miou, sha):
    model = zoo.resolve(name)
    assert (model.config, model.score, model.dataset) == (config, pytest.approx(miou), "Cityscapes")
    assert (mmseg_config_dir() / model.config).is_file()
    assert model.weights.startswith("https://download.openmmlab.com/mmsegmentation/") and model.weights.endswith(".pth")
    if sha:
        assert model.sha256_prefix == sha


def test_unknown_name_lists_close_matches():
    with pytest.raises(KeyError, match=r"no model named 'segformer_mit-b0_8xb1-160k_cityscape'.*close matches: "
                                       r"segformer_mit-b0_8xb1-160k_cityscapes-1024x1024"):
        zoo.resolve("segformer_mit-b0_8xb1-160k_cityscape")


def test_metafile_without_weights_or_with_result_lists(tmp_path):
    (tmp_path / "toy").mkdir()
    (tmp_path / "toy" / "metafile.yaml").write_text("""
Models:
- Name: released
  Config: configs/toy/released.py
  Results:
  - Task: Semantic Segmentation
    Dataset: Cityscapes
    Metrics: {mIoU: 70.5}
  Weights: https://example.org/toy/released_20200101_000000-0123abcd.pth
- Name: unreleased
  Config: configs/toy/unreleased.py
  Results: {Dataset: Cityscapes, Metrics: {mIoU: 60.0}}
""")
    models = zoo.zoo_models(tmp_path)
    assert list(models) == ["released"]
    assert models["released"] == zoo.ZooModel("released", "toy/released.py",
                                              "https://example.org/toy/released_20200101_000000-0123abcd.pth",
                                              "Cityscapes", 70.5)
    assert models["released"].sha256_prefix == "0123abcd"


def _toy_zoo(folder):
    """Two families on Cityscapes (one model without a score) and one ADE20K model."""
    entries = [("a1", "A", "Cityscapes", 70.0), ("a2", "A", "Cityscapes", 78.5), ("b1", "B", "Cityscapes", 74.0),
               ("b2", "B", "Cityscapes", None), ("c1", "C", "ADE20K", 45.0)]
    lines = ["Models:"]
    for name, family, dataset, miou in entries:
        metrics = "{}" if miou is None else f"{{mIoU: {miou}}}"
        lines += [f"- Name: {name}", f"  In Collection: {family}", f"  Config: configs/toy/{name}.py",
                  f"  Results: {{Dataset: {dataset}, Metrics: {metrics}}}",
                  f"  Weights: https://example.org/toy/{name}_20200101_000000-0123abcd.pth"]
    (folder / "toy").mkdir()
    (folder / "toy" / "metafile.yaml").write_text("\n".join(lines) + "\n")
    return folder


def test_select_by_dataset_score_and_family(tmp_path):
    configs = _toy_zoo(tmp_path)
    names = [model.name for model in zoo.select("cityscapes", configs_dir=configs)]
    assert names == ["a1", "a2", "b1"]  # b2 reports no mIoU, c1 is on ADE20K
    assert [m.name for m in zoo.select("Cityscapes", min_miou=74, configs_dir=configs)] == ["a2", "b1"]
    best = zoo.select("Cityscapes", per_family="best", configs_dir=configs)
    assert [(m.name, m.family) for m in best] == [("a2", "A"), ("b1", "B")]
    with pytest.raises(ValueError, match="per_family must be 'all' or 'best'"):
        zoo.select("Cityscapes", per_family="top", configs_dir=configs)


def test_select_the_whole_cityscapes_zoo_from_mmsegs_metafiles():
    every = zoo.select("Cityscapes")
    assert len(every) >= 250 and len({m.name for m in every}) == len(every)
    assert all(m.dataset == "Cityscapes" and m.score is not None for m in every)
    best = zoo.select("Cityscapes", per_family="best")
    families = {m.family for m in every}
    assert len(best) == len(families) >= 30
    for model in best:
        assert model.score == max(m.score for m in every if m.family == model.family), model.name
    mask2former = next(m for m in best if m.family == "Mask2Former")
    assert mask2former.name == "mask2former_swin-l-in22k-384x384-pre_8xb2-90k_cityscapes-512x1024"  # 83.65


def test_config_zoo_select_adds_models_and_keeps_named_ones():
    from pathlib import Path

    from segrel.config import validate_config

    schema = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml"
    mine = {"family": "SegFormer", "source": "zoo", "zoo": "segformer_mit-b5_8xb1-160k_cityscapes-1024x1024"}
    config = validate_config({"models": {"b5": dict(mine)},
                              "zoo": {"select": {"per_family": "best", "min_miou": 80}}}, schema)
    expected = {m.name for m in zoo.select("Cityscapes", 80, "best")} - {mine["zoo"]}
    added = {name for name in config["models"] if name != "b5"}
    assert added == expected and config["models"]["b5"]["zoo"] == mine["zoo"]
    for name in added:
        assert config["models"][name]["source"] == "zoo" and config["models"][name]["zoo"] == name
        assert config["models"][name]["family"]


@contextlib.contextmanager
def _mirror(directory, account: tuple[str, str] | None = None):
    """An HTTP server on 127.0.0.1 serving ``directory``; with ``account``, only to Basic auth
    with that (user, password). Yields its base URL."""
    import base64
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    expected = "Basic " + base64.b64encode(":".join(account).encode()).decode() if account else None

    class Handler(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            if expected and self.headers.get("Authorization") != expected:
                self.send_error(401)
                return
            super().do_GET()

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(directory)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()


def _mirrored_model(mirror_dir, payload: bytes) -> zoo.ZooModel:
    """SegFormer-B0's zoo entry with its checkpoint at a mirror path whose name carries the
    payload's SHA-256 prefix, as OpenMMLab's do."""
    import hashlib

    relative = f"mmsegmentation/v0.5/segformer/b0_20211208_101857-{hashlib.sha256(payload).hexdigest()[:8]}.pth"
    (mirror_dir / relative).parent.mkdir(parents=True)
    (mirror_dir / relative).write_bytes(payload)
    real = zoo.resolve("segformer_mit-b0_8xb1-160k_cityscapes-1024x1024")
    return zoo.ZooModel(real.name, real.config, zoo.OPENMMLAB_DOWNLOADS + relative, real.dataset, real.score)


def test_prepare_downloads_a_verified_checkpoint_and_a_single_process_config(tmp_path):
    """Through a mirror on 127.0.0.1: the checkpoint's SHA-256 prefix is in its name, as on
    OpenMMLab's server; the config is mmseg's, with BN for SyncBN and no ImageNet download."""
    from mmengine.config import Config

    from segrel.data.download import DownloadError

    payload = b"checkpoint bytes" * 1000
    model = _mirrored_model(tmp_path / "mirror", payload)
    with _mirror(tmp_path / "mirror") as mirror:
        zoo.prepare(model, tmp_path / "m" / "m.py", tmp_path / "m" / "m.pth", mirror=mirror, log=lambda m: None)
        assert (tmp_path / "m" / "m.pth").read_bytes() == payload
        cfg = Config.fromfile(str(tmp_path / "m" / "m.py"))
        assert "SyncBN" not in str(cfg.model) and "Pretrained" not in str(cfg.model)
        assert cfg.model["type"] == "EncoderDecoder" and cfg.model["backbone"]["type"] == "MixVisionTransformer"
        # another file behind the same name: refused, nothing kept
        (tmp_path / "mirror" / model.weights.removeprefix(zoo.OPENMMLAB_DOWNLOADS)).write_bytes(payload + b"!")
        with pytest.raises(DownloadError, match="checksum mismatch"):
            zoo.prepare(model, tmp_path / "n" / "n.py", tmp_path / "n" / "n.pth", mirror=mirror, log=lambda m: None)
        assert not (tmp_path / "n").exists() or not any((tmp_path / "n").iterdir())


def test_a_mirror_account_comes_from_the_environment_never_the_url(tmp_path, monkeypatch):
    from segrel.config import ConfigError, validate_config

    payload = b"checkpoint bytes" * 10
    model = _mirrored_model(tmp_path / "mirror", payload)
    monkeypatch.setenv("ZOO_MIRROR_USERNAME", "ann")
    monkeypatch.setenv("ZOO_MIRROR_PASSWORD", "s3cret")
    with _mirror(tmp_path / "mirror", account=("ann", "s3cret")) as mirror:
        zoo.prepare(model, tmp_path / "m" / "m.py", tmp_path / "m" / "m.pth", mirror=mirror, log=lambda m: None)
    assert (tmp_path / "m" / "m.pth").read_bytes() == payload
    # in the URL: refused at config time, for the zoo mirror as for a dataset's
    schema = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml"
    with pytest.raises(ConfigError) as error:
        validate_config({"zoo": {"mirror": "https://ann:s3cret@mirror.local/openmmlab/"},
                         "datasets": {"cityscapes": {"format": "cityscapes", "source": "download",
                                                     "mirror": "https://ann:s3cret@mirror.local/cs"}}}, schema)
    assert set(str(error.value).splitlines()) == {
        "config key 'datasets.cityscapes.mirror': credentials do not belong in a URL (the config is logged and "
        "shown in the report); use CITYSCAPES_USERNAME / CITYSCAPES_PASSWORD or ~/.netrc",
        "config key 'zoo.mirror': credentials do not belong in a URL (the config is logged and shown in the "
        "report); use ZOO_MIRROR_USERNAME / ZOO_MIRROR_PASSWORD or ~/.netrc"}


def test_config_rejects_an_unknown_zoo_name_with_close_matches():
    from pathlib import Path

    from segrel.config import ConfigError, validate_config

    schema = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml"
    config = validate_config({"models": {"b0": {"family": "SegFormer", "source": "zoo",
                                                "zoo": "segformer_mit-b0_8xb1-160k_cityscapes-1024x1024"}}}, schema)
    assert "base" not in config["models"]["b0"]
    with pytest.raises(ConfigError, match=r"models\.b0\.zoo.*close matches: segformer_mit-b0_8xb1-160k_cityscapes"):
        validate_config({"models": {"b0": {"family": "SegFormer", "source": "zoo",
                                           "zoo": "segformer_mit-b0_8xb1-160k_cityscape"}}}, schema)
    with pytest.raises(ConfigError, match="zoo"):
        validate_config({"models": {"b0": {"family": "SegFormer", "source": "zoo"}}}, schema)


@pytest.mark.workflow
def test_zoo_models_are_fetched_not_trained(snakemake, tmp_path):
    config = {"models": {"b0": {"family": "SegFormer", "source": "zoo",
                                "zoo": "segformer_mit-b0_8xb1-160k_cityscapes-1024x1024"}},
              "zoo": {"mirror": "http://127.0.0.1:9/openmmlab/"}}
    result = snakemake(tmp_path, config, "-n", "--cores", "1", "resources/models/b0/b0.pth")
    assert "fetch_zoo_model" in result.stdout and "train_demo_model" not in result.stdout
