"""Adversarial attacks (segrel.stress.attacks) against the SemSegBench authors' own attack code
(the `cospgd` package: its init / step / loss-scaling functions, driven as their published
attack loop drives them), hand-built loss weights, the projections, and the evaluation of an
attacked test set through the ordinary evaluation code."""

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from cospgd import functions as published

from segrel.core import formats
from segrel.evaluate.evaluation import EvaluationState, evaluate_job, evaluate_shard
from segrel.evaluate.metrics import miou
from segrel.stress import attack, rem
from segrel.stress.attacks import AttackSettings, attack_loss, perturb, pixel_weights, step

SEGFORMER = "segformer/segformer_mit-b0_8xb1-160k_cityscapes-1024x1024.py"
HEIGHT, WIDTH = 32, 64
LINF = {"eps": 8.0, "alpha": 2.55}  # the paper's 8/255 and 0.01 on the 0-255 scale
L2 = {"eps": 64.0, "alpha": 25.5}


def tiny_segmentor(test_cfg=None):
    """mmseg's SegFormer-B0 Cityscapes config, randomly initialised, on 32 x 64 images."""
    from mmseg.apis import init_model

    from segrel.models.segmentors import demo_model_config

    cfg = demo_model_config(SEGFORMER, (HEIGHT, WIDTH), (HEIGHT, WIDTH))
    if test_cfg:
        cfg.model.test_cfg = test_cfg
    torch.manual_seed(0)
    return init_model(cfg, None, device="cpu")


@pytest.fixture(scope="module")
def segmentor():
    return tiny_segmentor()


@pytest.fixture(scope="module")
def batch():
    generator = torch.Generator().manual_seed(1)
    images = torch.rand(2, 3, HEIGHT, WIDTH, generator=generator) * 255
    labels = torch.randint(0, 19, (2, HEIGHT, WIDTH), generator=generator)
    labels[:, :4] = 255  # void rows
    return images, labels


def published_attack(model, images, labels, method, norm, eps, alpha, iterations, seed, targeted=False):
    """The published attack loop (cospgd's unet_backbones trainer.adv_attack), with the model
    wrapped as SemSegBench wraps mmseg models: normalisation in front of its test-mode inference
    (here re-derived from the config's mean / std, not through mmseg's data preprocessor), a
    batch of one image so that their last-sample ground truth is the sample's own."""
    preprocessor = model.data_preprocessor
    mean, std = preprocessor.mean, preprocessor.std  # RGB order (bgr_to_rgb)
    metas = [{"ori_shape": images.shape[-2:], "img_shape": images.shape[-2:], "pad_shape": images.shape[-2:]}]

    def forward(x):
        return model.inference((x - mean) / std, metas)

    criterion = torch.nn.CrossEntropyLoss(ignore_index=255, reduction="none")
    original = images.clone()
    if method != "bim":
        torch.manual_seed(seed)
        init = published.init_linf if norm == "linf" else published.init_l2
        images = init(images, epsilon=eps, clamp_min=0, clamp_max=255)
    images.requires_grad = True
    predictions = forward(images)
    loss = criterion(predictions.float(), labels.long())
    for iteration in range(iterations):
        if method == "cospgd":
            loss = published.cospgd_scale(predictions=predictions, labels=labels.long(), loss=loss, num_classes=19,
                                          targeted=targeted)
        elif method == "segpgd":
            loss = published.segpgd_scale(predictions=predictions, labels=labels, loss=loss, iteration=iteration,
                                          iterations=iterations, targeted=targeted)
        loss = loss.mean()
        loss.backward()
        step_fn = published.step_inf if norm == "linf" else published.step_l2
        images = step_fn(perturbed_image=images, epsilon=eps, data_grad=images.grad, orig_image=original,
                         alpha=alpha, targeted=targeted, clamp_min=0, clamp_max=255)
        images.requires_grad = True
        predictions = forward(images)
        loss = criterion(predictions.float(), labels.long())
    return images.detach()


@pytest.mark.parametrize("norm", ["linf", "l2"])
@pytest.mark.parametrize("method", ["pgd", "segpgd", "cospgd", "bim"])
def test_attacks_are_the_published_code(segmentor, batch, method, norm):
    images, labels = batch[0][:1], batch[1][:1]
    budget = LINF if norm == "linf" else L2
    expected = published_attack(segmentor, images.clone(), labels, method, norm, budget["eps"], budget["alpha"], 3,
                                seed=7)
    adversarial = attack(segmentor, images, labels, method, norm, budget["eps"], budget["alpha"], 3, seed=7)
    assert adversarial.shape == images.shape and adversarial.dtype == torch.float32
    assert not torch.equal(adversarial, images)
    assert all(parameter.requires_grad for parameter in segmentor.parameters())  # frozen only while attacked
    torch.testing.assert_close(adversarial, expected, atol=1e-3, rtol=0)


@pytest.mark.parametrize("method", ["pgd", "segpgd", "cospgd"])
def test_targeted_attacks_are_the_published_targeted_variant(segmentor, batch, method):
    """The published targeted attack pushes every pixel towards one class (their code: class 1),
    descending its loss with their targeted weights."""
    images = batch[0][:1]
    target = torch.full((1, HEIGHT, WIDTH), 1)
    expected = published_attack(segmentor, images.clone(), target, method, "linf", 8, 2.55, 3, seed=2, targeted=True)
    labels = torch.randint(0, 19, (1, HEIGHT, WIDTH), generator=torch.Generator().manual_seed(5))
    adversarial = attack(segmentor, images, labels, method, "linf", 8, 2.55, 3, seed=2, target=1)
    torch.testing.assert_close(adversarial, expected, atol=1e-3, rtol=0)


def test_each_sample_is_attacked_with_its_own_ground_truth(segmentor, batch):
    """A batch of two gives each image what attacking it alone gives (the published code would
    attack both with the second image's labels)."""
    images, labels = batch
    seeds = [11, 12]
    together = attack(segmentor, images, labels, "pgd", "linf", 8, 2.55, 2, seed=seeds)
    for index in range(2):
        alone = attack(segmentor, images[index : index + 1], labels[index : index + 1], "pgd", "linf", 8, 2.55, 2,
                       seed=[seeds[index]])
        torch.testing.assert_close(together[index : index + 1], alone, atol=1e-3, rtol=0)
    swapped = attack(segmentor, images, labels.flip(0), "pgd", "linf", 8, 2.55, 2, seed=seeds)
    assert not torch.allclose(swapped, together)


def test_segpgd_and_cospgd_weights_by_hand():
    # two pixels, 3 classes: pixel 0 predicted right (class 0), pixel 1 wrong (label 2, predicts 1)
    logits = torch.tensor([[3.0, 0.0], [1.0, 2.0], [0.0, 1.0]])[None, :, None, :]  # (1, 3, 1, 2)
    labels = torch.tensor([[[0, 2]]])
    weights = pixel_weights(logits, labels, "segpgd", 3, 10)  # lambda = 3 / 20
    torch.testing.assert_close(weights, torch.tensor([[[0.85, 0.15]]]))
    assert pixel_weights(logits, labels, "segpgd", 0, 10).tolist() == [[[1.0, 0.0]]]
    targeted = pixel_weights(logits, labels, "segpgd", 3, 10, targeted=True)
    torch.testing.assert_close(targeted, torch.tensor([[[0.15, 0.85]]]))
    probabilities = torch.softmax(logits, dim=1)[0, :, 0].T  # (pixels, classes)
    expected = torch.stack([probabilities[0, 0], probabilities[1, 2]]) / probabilities.norm(dim=1)
    torch.testing.assert_close(pixel_weights(logits, labels, "cospgd", 0, 10)[0, 0], expected)
    assert pixel_weights(logits, labels, "pgd", 0, 10) is None and pixel_weights(logits, labels, "bim", 0, 10) is None


@pytest.mark.parametrize("method", ["pgd", "segpgd", "cospgd"])
def test_void_pixels_get_zero_gradient(method):
    logits = torch.randn(2, 19, 6, 8, generator=torch.Generator().manual_seed(0), requires_grad=True)
    labels = torch.randint(0, 19, (2, 6, 8), generator=torch.Generator().manual_seed(1))
    labels[:, :, :3] = 255
    settings = AttackSettings(method, "linf", 8, 2.55, 4)
    (gradient,) = torch.autograd.grad(attack_loss(logits, labels, settings, 2), logits)
    assert (gradient[:, :, :, :3] == 0).all() and (gradient[:, :, :, 3:] != 0).any()
    # an image with no labelled pixel is not moved by BIM (no random start)
    images = torch.full((1, 3, HEIGHT, WIDTH), 100.0)
    unlabelled = torch.full((1, HEIGHT, WIDTH), 255)
    def forward(x):
        return x.mean(dim=1, keepdim=True) * torch.linspace(0, 1, 19)[:, None, None]

    moved = perturb(forward, images, unlabelled, AttackSettings("bim", "linf", 8, 2.55, 3), seed=0)
    assert torch.equal(moved, images)


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_projection_keeps_the_ball_and_the_range(norm):
    generator = torch.Generator().manual_seed(4)
    original = torch.rand(3, 3, 16, 16, generator=generator) * 255
    original[0] = 0.0  # a black image: the range bites
    settings = AttackSettings("pgd", norm, 8.0 if norm == "linf" else 64.0, 50.0, 10)
    current = original.clone()
    for _ in range(10):
        current = step(current, torch.randn(current.shape, generator=generator), original, settings)
        delta = current - original
        if norm == "linf":
            assert delta.abs().max() <= settings.eps + 1e-4
        else:
            assert torch.linalg.vector_norm(delta, dim=(1, 2, 3)).max() <= settings.eps * (1 + 1e-5)
        assert current.min() >= 0 and current.max() <= 255


def test_bad_settings_are_refused(segmentor, batch):
    images, labels = batch
    with pytest.raises(ValueError, match="eps and alpha must be > 0"):
        attack(segmentor, images, labels, "pgd", "linf", 0, 2.55, 2, seed=0)
    with pytest.raises(ValueError, match="unknown attack 'fgsm'; known: pgd, segpgd, cospgd, bim"):
        attack(segmentor, images, labels, "fgsm", "linf", 8, 2.55, 2, seed=0)
    with pytest.raises(ValueError, match="unknown attack norm 'l1'; known: linf, l2"):
        attack(segmentor, images, labels, "pgd", "l1", 8, 2.55, 2, seed=0)


def test_a_model_without_a_differentiable_preprocessor_is_refused(batch):
    from mmengine.model import BaseDataPreprocessor

    model = tiny_segmentor()
    model.data_preprocessor = BaseDataPreprocessor()
    with pytest.raises(ValueError, match="data preprocessor is BaseDataPreprocessor"):
        attack(model, *batch, "pgd", "linf", 8, 2.55, 1, seed=0)


def test_sliding_window_models_are_attacked_through_their_window():
    """A slide-mode model is attacked through its windows: the result differs from attacking
    the same weights in whole-image mode, and an attack with an all-zero budget is the image."""
    images = torch.rand(1, 3, HEIGHT, WIDTH, generator=torch.Generator().manual_seed(2)) * 255
    labels = torch.randint(0, 19, (1, HEIGHT, WIDTH), generator=torch.Generator().manual_seed(3))
    slide = tiny_segmentor({"mode": "slide", "crop_size": (32, 32), "stride": (16, 16)})
    whole = tiny_segmentor()
    by_slide = attack(slide, images, labels, "bim", "linf", 8, 2.55, 2, seed=0)
    by_whole = attack(whole, images, labels, "bim", "linf", 8, 2.55, 2, seed=0)
    assert not torch.allclose(by_slide, by_whole)


def test_rem_is_the_worst_attack():
    assert rem({"pgd-linf": 0.31, "cospgd-linf": 0.07, "bim-l2": 0.12}) == 0.07
    assert rem([0.5]) == 0.5
    with pytest.raises(ValueError, match="rem: no value"):
        rem({})
    with pytest.raises(ValueError, match=r"fractions in \[0, 1\]"):
        rem({"pgd-linf": 12.0})


def write_demo_images(folder, images=3):
    from segrel.data.demo.writers import write_cityscapes

    write_cityscapes(folder, seed=3, height=HEIGHT, width=WIDTH, cities={"val": {"lindau": images}})
    return sorted(formats.list_samples("cityscapes", folder, "val"), key=lambda sample: sample.name)


def test_attacked_test_set_goes_through_the_evaluation(segmentor, tmp_path):
    """evaluate_job on an attacked test set scores each image's adversarial example (the one
    attack() makes of that image with the image's seed), records the mIoU after each iteration
    (iteration 0: the random start; the last: the scored example), and keeps its settings in
    the state, so that shards of another attack refuse to merge."""
    from segrel.stress.attacks import start_seed

    samples = write_demo_images(tmp_path)
    spec = {"name": "segpgd", "norm": "linf", "eps": 8.0, "alpha": 2.55, "iterations": 3, "images": 2, "seed": 5}
    settings = {"batch_size": 2, "calibration_pixels": 500, "seed": 0,
                "ablations": {"calibration_pixels": [], "negative_entropy": False}}
    test_sets = {"attacked": {"format": "cityscapes", "root": str(tmp_path), "split": "val", "subset": "*",
                              "unknown_ids": "error", "attack": spec}}
    ((name, states),) = list(evaluate_job(segmentor, "tiny", test_sets, 0, 1, settings))
    state = states[""]
    assert name == "attacked" and state.image_names == [sample.name for sample in samples[:2]]
    assert json.loads(state.attack) == {**spec, "target": None, "batch_size": None}
    # the scored confusion is that of attack()'s examples for the same seeds
    expected = np.zeros_like(state.confusion)
    for sample in samples[:2]:
        image = torch.from_numpy(formats.read_image(sample.image)).permute(2, 0, 1)[None].float()
        label = torch.from_numpy(formats.read_label("cityscapes", sample.label).astype(np.int64))[None]
        adversarial = attack(segmentor, image, label, "segpgd", "linf", 8, 2.55, 3, seed=[start_seed(5, sample.name)])
        logits = segmentor.inference((adversarial - segmentor.data_preprocessor.mean) / segmentor.data_preprocessor.std,
                                     [{"ori_shape": (HEIGHT, WIDTH), "img_shape": (HEIGHT, WIDTH),
                                       "pad_shape": (HEIGHT, WIDTH)}])
        prediction = logits.argmax(dim=1)[0].numpy()
        valid = label[0].numpy() != 255
        np.add.at(expected, (label[0].numpy()[valid], prediction[valid]), 1)
    assert np.abs(expected - state.confusion).sum() <= 4  # a pixel or two of float ties at most
    curve = state.ablation_metrics()
    assert [row[:3] for row in curve] == [("attack_iterations", str(t), "miou") for t in range(4)]
    assert curve[-1][3] == miou(state.confusion)
    # a clean evaluation of the same images is another setting: they refuse to merge
    clean = evaluate_shard(segmentor, "cityscapes", samples[:2], batch_size=2, calibration_pixels=500, seed=0)
    assert clean.attack == "" and len(clean.attack_confusion) == 0
    with pytest.raises(ValueError, match="different settings.*attack"):
        EvaluationState.merge(clean, state)
    path = tmp_path / "state.npz"
    state.save(path)
    loaded = EvaluationState.load(path)
    assert loaded.attack == state.attack and loaded.ablation_metrics() == curve


def test_attack_loss_matches_a_direct_cross_entropy():
    logits = torch.randn(1, 19, 4, 5, generator=torch.Generator().manual_seed(0))
    labels = torch.randint(0, 19, (1, 4, 5), generator=torch.Generator().manual_seed(1))
    labels[0, 0] = 255
    settings = AttackSettings("pgd", "linf", 8, 2.55, 1)
    expected = F.cross_entropy(logits, labels, ignore_index=255, reduction="sum") / 20  # void counts as 0
    torch.testing.assert_close(attack_loss(logits, labels, settings, 0), expected)


def _validated(stress: dict, test_sets: dict | None = None) -> dict:
    from pathlib import Path

    from segrel.config import validate_config

    config = {"datasets": {"cityscapes": {"format": "cityscapes", "source": "demo"},
                           "smiyc": {"format": "smiyc", "source": "demo"}},
              "test_sets": {"cityscapes_val": {"dataset": "cityscapes", "split": "val", "subset": "frankfurt"},
                            **(test_sets or {})},
              "analysis": {"comparisons": {}}, "stress": stress}
    return validate_config(config, Path(__file__).resolve().parents[1] / "workflow/schemas/config.schema.yaml")


def test_stress_attacks_become_attacked_test_sets_of_the_clean_dataset():
    config = _validated({"test_set": "cityscapes_val", "seed": 3,
                         "attacks": {"methods": {"linf": ["pgd", "bim"], "l2": ["cospgd"]}, "iterations": 4,
                                     "images": 2}})
    attacked = {name: spec for name, spec in config["test_sets"].items() if "attack" in spec}
    assert set(attacked) == {"cityscapes_val-pgd-linf", "cityscapes_val-bim-linf", "cityscapes_val-cospgd-l2"}
    assert attacked["cityscapes_val-cospgd-l2"] == {
        "dataset": "cityscapes", "split": "val", "subset": "frankfurt", "excluded_classes": [],
        "attack": {"name": "cospgd", "norm": "l2", "eps": 64, "alpha": 25.5, "iterations": 4, "images": 2, "seed": 3,
                   "target": None, "batch_size": None}}
    assert attacked["cityscapes_val-pgd-linf"]["attack"]["eps"] == 8  # SemSegBench's 8/255
    assert "cityscapes_val-pgd-linf" not in config["datasets"]  # made per model: no copy on disk
    assert _validated(config["stress"], config["test_sets"]) == config  # idempotent


@pytest.mark.parametrize("stress, test_sets, message", [
    ({"test_set": "cityscapes_val", "attacks": {"methods": {"linf": ["pgd"]}, "linf": {"eps": 0}}}, {},
     "config key 'stress.attacks.linf.eps': 0 is less than or equal to the minimum of 0"),
    ({"test_set": "cityscapes_val", "attacks": {"methods": {"linf": ["fgsm"]}}}, {},
     "config key 'stress.attacks.methods.linf.0': 'fgsm' is not one of ['pgd', 'segpgd', 'cospgd', 'bim']"),
    ({"test_set": "cityscapes_val", "attacks": {"methods": {"l1": ["pgd"]}}}, {},
     "unknown config key 'stress.attacks.methods.l1'; allowed keys here: l2, linf"),
    ({"test_set": "nowhere", "attacks": {"methods": {"linf": ["pgd"]}}}, {},
     "'stress.test_set': no test set named 'nowhere'"),
    ({}, {"anomalies-pgd": {"dataset": "smiyc", "split": "validation",
                            "attack": {"name": "pgd", "norm": "linf", "eps": 8, "alpha": 2.55, "iterations": 2}}},
     "'test_sets.anomalies-pgd.attack': attacks ascend the cross-entropy with each pixel's class, which dataset "
     "'smiyc' (smiyc) has no labels of"),
    ({}, {"x": {"dataset": "cityscapes", "attack": {"name": "pgd", "norm": "linf", "eps": -1, "alpha": 2.55,
                                                    "iterations": 2}}},
     "config key 'test_sets.x.attack.eps': -1 is less than or equal to the minimum of 0"),
])
def test_bad_attack_configs_are_refused_at_config_time_naming_the_fix(stress, test_sets, message):
    import re

    from segrel.config import ConfigError

    with pytest.raises(ConfigError, match=re.escape(message)):
        _validated(stress, test_sets)


def test_a_batch_that_does_not_fit_in_gpu_memory_names_the_fix():
    def forward(x):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    images, labels = torch.zeros(4, 3, 8, 8), torch.zeros(4, 8, 8, dtype=torch.long)
    message = r"a batch of 4 image\(s\) .* lower the attack's batch size \(stress\.attacks\.batch_size"
    with pytest.raises(RuntimeError, match=message):
        perturb(forward, images, labels, AttackSettings("pgd", "linf", 8, 2.55, 2), seed=0)
