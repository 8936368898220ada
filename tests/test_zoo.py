"""Zoo models resolved from the metafiles mmsegmentation ships (segrel.zoo). Expected values are
read by hand from mmseg 1.2.2's configs/*/metafile.yaml and ../shared/REFERENCE.md."""

import pytest

from segrel import zoo
from segrel.models import mmseg_config_dir


@pytest.mark.parametrize("name, config, miou, sha", [
    ("segformer_mit-b0_8xb1-160k_cityscapes-1024x1024", "segformer/segformer_mit-b0_8xb1-160k_cityscapes-1024x1024.py",
     76.54, "e7f88502"),
    ("bisenetv2_fcn_4xb4-160k_cityscapes-1024x1024", "bisenetv2/bisenetv2_fcn_4xb4-160k_cityscapes-1024x1024.py",
     73.21, None),
    ("pspnet_r18-d8_4xb2-80k_cityscapes-769x769", "pspnet/pspnet_r18-d8_4xb2-80k_cityscapes-769x769.py", 75.90, None),
])
def test_resolves_names_to_config_weights_and_reported_miou(name, config, miou, sha):
    model = zoo.resolve(name)
    assert (model.config, model.miou, model.dataset) == (config, pytest.approx(miou), "Cityscapes")
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
