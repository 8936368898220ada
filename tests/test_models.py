"""Demo model training: the weights a run keeps are the weights of a shorter run, and the
training options reach mmseg's pipeline."""

import pytest
import torch

from segrel.data.demo.writers import write_cityscapes
from segrel.models.segmentors import DemoTrainingSettings, copy_snapshot, demo_training_config, train_demo_model

SEGFORMER = "segformer/segformer_mit-b0_8xb1-160k_cityscapes-1024x1024.py"


def _settings(**changes) -> DemoTrainingSettings:
    values = {"base": SEGFORMER, "overrides": {}, "image_size": [64, 128], "crop_size": [64, 128],
              "iterations": 2, "batch_size": 2, "learning_rate": 1e-3, "seed": 0,
              "photometric_distortion": True, "resize_ratio": [0.5, 2.0], "snapshots": []}
    return DemoTrainingSettings(**{**values, **changes})


@pytest.fixture(scope="module")
def cityscapes(tmp_path_factory):
    root = tmp_path_factory.mktemp("data") / "cityscapes"
    write_cityscapes(root, seed=5, height=64, width=128, cities={"train": {"aachen": 4}})
    return root


def test_a_snapshot_is_the_run_stopped_early(cityscapes, tmp_path):
    """Weights kept after 1 iteration of a 2-iteration run = a 1-iteration run's (the warm-up
    makes the first step's learning rate the same in both)."""
    long_run, short_run, copy = tmp_path / "long", tmp_path / "short", tmp_path / "copy"
    train_demo_model(long_run / "m.py", long_run / "m.pth", _settings(iterations=2, snapshots=[1]),
                     data_root=str(cityscapes), snapshots_out=long_run / "snapshots")
    train_demo_model(short_run / "m.py", short_run / "m.pth", _settings(iterations=1), data_root=str(cityscapes))
    copy_snapshot(long_run / "snapshots", 1, long_run / "m.py", copy / "m.py", copy / "m.pth")

    snapshot = torch.load(copy / "m.pth", weights_only=False)
    short = torch.load(short_run / "m.pth", weights_only=False)
    final = torch.load(long_run / "m.pth", weights_only=False)
    assert snapshot["meta"]["iterations"] == 1 and final["meta"]["iterations"] == 2
    assert snapshot["state_dict"].keys() == short["state_dict"].keys()
    for key, value in snapshot["state_dict"].items():
        assert torch.equal(value, short["state_dict"][key]), key
    assert any(not torch.equal(value, final["state_dict"][key]) for key, value in snapshot["state_dict"].items())
    assert (copy / "m.py").read_text() == (long_run / "m.py").read_text()
    assert sorted(path.name for path in (long_run / "snapshots").iterdir()) == ["iter_1.pth"]

    with pytest.raises(FileNotFoundError, match=r"no weights after 5 iterations \(it has \['iter_1.pth'\]\)"):
        copy_snapshot(long_run / "snapshots", 5, long_run / "m.py", copy / "x.py", copy / "x.pth")
    assert not (copy / "x.pth").exists()


@pytest.mark.parametrize("distortion, ratio", [(True, [0.5, 2.0]), (False, [0.75, 1.5])])
def test_augmentations_follow_the_settings(tmp_path, distortion, ratio):
    cfg = demo_training_config(_settings(photometric_distortion=distortion, resize_ratio=ratio),
                               data_root=str(tmp_path), work_dir=str(tmp_path / "work"))
    pipeline = cfg.train_dataloader["dataset"]["pipeline"]
    steps = [step["type"] for step in pipeline]
    assert ("PhotoMetricDistortion" in steps) == distortion
    assert steps[-1] == "PackSegInputs" and "RandomCrop" in steps
    assert pipeline[steps.index("RandomResize")]["ratio_range"] == tuple(ratio)


def _tiny_model_files(folder, base: str):
    """mmseg's ``base`` config as the demo narrows it (64 x 128), randomly initialised: the
    config file and a checkpoint of its weights, as the models stage writes them."""
    from mmseg.apis import init_model

    from segrel.models.segmentors import demo_model_config

    cfg = demo_model_config(base, (64, 128), (64, 128))
    folder.mkdir()
    cfg.dump(str(folder / "model.py"))
    torch.save({"state_dict": init_model(cfg, None, device="cpu").state_dict(), "meta": {}}, folder / "model.pth")
    return folder / "model.py", folder / "model.pth"


def test_a_checkpoint_that_does_not_fit_its_model_is_refused(tmp_path):
    from segrel.models.segmentors import load_model

    segformer = _tiny_model_files(tmp_path / "segformer", SEGFORMER)
    pspnet = _tiny_model_files(tmp_path / "pspnet", "pspnet/pspnet_r18-d8_4xb2-80k_cityscapes-769x769.py")
    model = load_model(*segformer)  # its own weights: loaded, equal to the file's
    saved = torch.load(segformer[1], weights_only=False)["state_dict"]
    assert all(torch.equal(value, saved[key]) for key, value in model.state_dict().items())
    with pytest.raises(ValueError) as error:
        load_model(segformer[0], pspnet[1])
    message = str(error.value)
    assert message.startswith(f"{pspnet[1]} does not fit the model of {segformer[0]}: ")
    assert "missing (e.g. backbone.layers.0.0.projection.weight" in message and " unexpected (e.g. " in message
    assert message.endswith("it is another architecture's checkpoint, or the config is not the one it was trained "
                            "with")
    # a truncated file: named, whatever pickle or zip says
    segformer[1].write_bytes(segformer[1].read_bytes()[:1000])
    with pytest.raises(ValueError, match=rf"^{segformer[1]}: cannot be read as a checkpoint \("):
        load_model(*segformer)


def test_finetuning_starts_from_the_checkpoint_and_refuses_another_architectures(cityscapes, tmp_path):
    from mmengine.config import Config

    from segrel.models.segmentors import TrainingSchedule, finetune_model, load_model

    config, checkpoint = _tiny_model_files(tmp_path / "segformer", SEGFORMER)
    saved = torch.load(checkpoint, weights_only=False)
    # weights no initialisation gives, so that loading them is what the test sees
    saved["state_dict"] = {key: value + 0.5 if value.is_floating_point() else value
                           for key, value in saved["state_dict"].items()}
    torch.save(saved, checkpoint)
    schedule = TrainingSchedule(image_size=[64, 128], crop_size=[32, 64], iterations=1, batch_size=2,
                                learning_rate=1e-12, seed=0, photometric_distortion=False, resize_ratio=[1.0, 1.0])
    out = tmp_path / "tuned"
    finetune_model(config, checkpoint, schedule, data_root=str(cityscapes), config_out=out / "m.py",
                   checkpoint_out=out / "m.pth")
    tuned = torch.load(out / "m.pth", weights_only=False)
    assert tuned["meta"]["iterations"] == 1
    # one step at a 1e-12 learning rate: the checkpoint's learnt weights (BN statistics move)
    for key, value in load_model(out / "m.py", out / "m.pth").named_parameters():
        assert torch.allclose(value, saved["state_dict"][key], atol=1e-6), key
    assert tuple(Config.fromfile(str(out / "m.py")).model.data_preprocessor.size) == (32, 64)

    pspnet = _tiny_model_files(tmp_path / "pspnet", "pspnet/pspnet_r18-d8_4xb2-80k_cityscapes-769x769.py")
    with pytest.raises(ValueError, match="does not fit the model of"):
        finetune_model(config, pspnet[1], schedule, data_root=str(cityscapes), config_out=tmp_path / "x" / "m.py",
                       checkpoint_out=tmp_path / "x" / "m.pth")
    assert not (tmp_path / "x" / "m.pth").exists() and not (tmp_path / "x" / "m.py").exists()


def test_mmseg_imports_without_the_unused_packages_and_refuses_mmdet_models_afterwards():
    """import_openmmlab in a fresh process (a job's): no mmdet, transformers, timm or seaborn
    imported for a SegFormer; they import as usual afterwards; a Mask2Former is then refused."""
    import subprocess
    import sys

    from segrel.models.segmentors import mmseg_config_dir, needs_mmdet

    mask2former = mmseg_config_dir() / "mask2former/mask2former_r50_8xb2-90k_cityscapes-512x1024.py"
    maskformer = mmseg_config_dir() / "maskformer/maskformer_r101-d32_8xb2-160k_ade20k-512x512.py"  # via _base_
    assert needs_mmdet(mask2former) and needs_mmdet(maskformer) and not needs_mmdet(mmseg_config_dir() / SEGFORMER)
    script = f"""
import sys
from mmengine.config import Config
from segrel.models.segmentors import import_openmmlab, replace_syncbn
import_openmmlab("mmseg")
print(sorted(name for name in ("mmdet", "transformers", "timm", "seaborn") if name in sys.modules))
from mmseg.apis import init_model
cfg = Config.fromfile({str(mmseg_config_dir() / SEGFORMER)!r})
replace_syncbn(cfg.model)
print(type(init_model(cfg, device="cpu")).__name__)
import seaborn, transformers
try:
    import_openmmlab("mmseg", "mmdet")
except RuntimeError as error:
    print("refused:", error)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:2] == ["[]", "EncoderDecoder"]
    assert "refused: this process imported mmseg without mmdet" in result.stdout


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_the_low_resolution_fusion_head_computes_mmsegs_segformer_head(mode):
    """SegformerHeadLowResFusion with the weights of mmseg's SegformerHead (the reference): the
    same logits and, in training (BN on the batch's statistics, dropout off), the same gradients."""
    from segrel.models.segmentors import import_openmmlab

    import_openmmlab("mmseg")
    from mmseg.models.decode_heads import SegformerHead

    from segrel.models.heads import SegformerHeadLowResFusion

    settings = dict(in_channels=[8, 16, 24, 32], in_index=[0, 1, 2, 3], channels=16, num_classes=5, dropout_ratio=0,
                    norm_cfg=dict(type="BN", requires_grad=True))
    torch.manual_seed(0)
    reference = SegformerHead(**settings)
    head = SegformerHeadLowResFusion(**settings)
    head.load_state_dict(reference.state_dict(), strict=True)
    features = [torch.randn(2, c, 16 // 2**level, 32 // 2**level, requires_grad=True)
                for level, c in enumerate(settings["in_channels"])]
    outputs = {}
    for name, module in (("reference", reference), ("fused", head)):
        module.train(mode == "train")
        logits = module(features)
        logits.square().mean().backward()
        outputs[name] = (logits.detach(), {key: p.grad.clone() for key, p in module.named_parameters()},
                         [f.grad.clone() for f in features])
        for feature in features:
            feature.grad = None
    logits, gradients, input_gradients = outputs["fused"]
    expected, expected_gradients, expected_inputs = outputs["reference"]
    torch.testing.assert_close(logits, expected, atol=1e-5, rtol=1e-4)
    assert gradients.keys() == expected_gradients.keys()
    for key in gradients:
        torch.testing.assert_close(gradients[key], expected_gradients[key], atol=1e-5, rtol=1e-4, msg=key)
    for got, want in zip(input_gradients, expected_inputs, strict=True):
        torch.testing.assert_close(got, want, atol=1e-5, rtol=1e-4)


def test_segrels_heads_are_registered_however_mmseg_was_imported_first():
    """A process that imported mmseg's APIs itself before loading a model still gets segrel's
    heads registered by import_openmmlab (a saved demo SegFormer names one)."""
    import subprocess
    import sys

    script = """
import mmseg.apis
from mmseg.registry import MODELS
from segrel.models.segmentors import import_openmmlab
print(MODELS.get("SegformerHeadLowResFusion") is not None)
import_openmmlab("mmseg")
print(MODELS.get("SegformerHeadLowResFusion") is not None)
"""
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True"]
