"""Models whose decode head returns per-class probabilities (Mask2Former, MaskFormer) are scored
on those probabilities, not on a softmax of them: the kind is read from the model's config, and
a tiny Mask2Former built from mmseg's own Cityscapes config gets, from evaluate_shard, the
confidences of mmseg's own seg_logits normalised per pixel."""

import numpy as np
import pytest
import torch
from scipy.stats import entropy as scipy_entropy

from segrel.core import formats
from segrel.evaluate.evaluation import as_logits, evaluate_shard, pixel_scores
from segrel.models.segmentors import mmseg_config_dir, output_kind

MASK2FORMER = "mask2former/mask2former_r50_8xb2-90k_cityscapes-512x1024.py"


def test_a_class_head_of_60_40_gives_confidence_0_6():
    """The issue's case: 60% road / 40% car everywhere, times any mask probability."""
    mask = torch.linspace(0.05, 0.95, 24).reshape(4, 6)
    scores = torch.zeros(19, 4, 6)
    scores[0], scores[13] = 0.6 * mask, 0.4 * mask
    scored = pixel_scores(as_logits(scores, "probabilities"))
    np.testing.assert_allclose(scored["confidence"].numpy(), 0.6, rtol=1e-6)
    np.testing.assert_allclose(scored["entropy"].numpy(), scipy_entropy([0.6, 0.4]), rtol=1e-5)
    np.testing.assert_allclose(scored["msp"].numpy(), np.log(0.4), rtol=1e-5)
    # "max logit" of a probability model: the log of its largest unnormalised score
    np.testing.assert_allclose(scored["max_logit"].numpy(), -np.log(0.6 * mask.numpy()), rtol=1e-5)
    assert (scored["prediction"] == 0).all()
    # read as logits, the same scores would give a near-uniform softmax over 19 classes
    assert pixel_scores(scores)["confidence"].max().item() < 0.1
    with pytest.raises(ValueError, match="unknown model output kind 'softmax'"):
        as_logits(scores, "softmax")


@pytest.mark.parametrize("config, kind", [
    (MASK2FORMER, "probabilities"),
    ("mask2former/mask2former_swin-t_8xb2-90k_cityscapes-512x1024.py", "probabilities"),
    ("maskformer/maskformer_r50-d32_8xb2-160k_ade20k-512x512.py", "probabilities"),
    ("segformer/segformer_mit-b0_8xb1-160k_cityscapes-1024x1024.py", "logits"),
    ("ocrnet/ocrnet_hr18_4xb2-80k_cityscapes-512x1024.py", "logits"),  # a cascade of two heads
])
def test_output_kind_is_read_from_mmseg_configs(config, kind):
    from mmengine.config import Config

    assert output_kind(Config.fromfile(str(mmseg_config_dir() / config))) == kind


@pytest.fixture(scope="module")
def tiny_mask2former():
    """mmseg's Mask2Former-R50 Cityscapes config, narrowed (ResNet-18, 10 queries, one pixel
    decoder layer, three decoder layers), randomly initialised, for 64 x 128 images."""
    from mmseg.apis import init_model

    from segrel.models.segmentors import demo_model_config

    cfg = demo_model_config(MASK2FORMER, (64, 128), (64, 128), {
        "model.backbone.depth": 18, "model.decode_head.in_channels": [64, 128, 256, 512],
        "model.decode_head.num_queries": 10, "model.decode_head.pixel_decoder.encoder.num_layers": 1,
        "model.decode_head.transformer_decoder.num_layers": 3})
    torch.manual_seed(0)
    return init_model(cfg, None, device="cpu")


def test_tiny_mask2former_confidences_are_its_normalised_scores(tiny_mask2former, tmp_path):
    from mmseg.apis import inference_model

    from segrel.data.demo.writers import write_cityscapes

    write_cityscapes(tmp_path, seed=3, height=64, width=128, cities={"val": {"lindau": 2}})
    samples = sorted(formats.list_samples("cityscapes", tmp_path, "val"), key=lambda sample: sample.name)
    # every pixel drawn: the image confidence is the mean MSP over the labelled pixels
    state = evaluate_shard(tiny_mask2former, "cityscapes", samples, batch_size=1, calibration_pixels=64 * 128,
                           seed=0)
    assert state.outputs == "probabilities"
    for sample, confidence in zip(samples, state.image_confidence, strict=True):
        with torch.no_grad():
            scores = inference_model(tiny_mask2former, str(sample.image)).seg_logits.data.double()
        assert scores.min() >= 0  # probabilities, not logits
        normalised_max = (scores.max(dim=0).values / scores.sum(dim=0)).numpy()
        labelled = formats.read_label("cityscapes", sample.label) != 255
        assert confidence == pytest.approx(normalised_max[labelled].mean(), rel=1e-5)
        # what a softmax of the scores gives instead (the bug this guards against)
        softmax_max = torch.softmax(scores, dim=0).max(dim=0).values.numpy()
        assert abs(softmax_max[labelled].mean() - confidence) > 0.01


def test_channels_last_on_cpu_keeps_the_outputs_and_spares_mmcv_ops(tiny_mask2former):
    """cpu_channels_last changes the layout, not the results: the same logits to float rounding
    (against the same weights in the default layout); a model with mmcv's compiled ops (the
    Mask2Former's deformable attention) keeps the default layout."""
    import copy

    from mmseg.apis import init_model

    from segrel.models.segmentors import cpu_channels_last, demo_model_config

    torch.manual_seed(0)
    cfg = demo_model_config("fcn/fcn_r18-d8_4xb2-80k_cityscapes-512x1024.py", (64, 128), (64, 128))
    model = init_model(cfg, None, device="cpu").eval()
    images = torch.rand(2, 3, 64, 128)
    with torch.no_grad():
        reference = model._forward(images)
        converted = cpu_channels_last(copy.deepcopy(model))
        outputs = converted._forward(images)
    assert converted.decode_head.convs[0].conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert not model.decode_head.convs[0].conv.weight.is_contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(outputs, reference, rtol=1e-4, atol=1e-5)
    weights = [parameter for parameter in tiny_mask2former.parameters() if parameter.dim() == 4]
    cpu_channels_last(tiny_mask2former)
    assert all(weight.is_contiguous() for weight in weights)
