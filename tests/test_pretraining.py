"""The demo generators' pre-training (segrel.generate.demo.pretraining): its data, and that each objective
is wired the way the pipelines that later run the models expect (checked against the
pipelines' and transformers' own inference code, not against the training code)."""

import csv

import numpy as np
import pytest
import torch
from PIL import Image

from segrel.generate.demo import builders, pretraining


@pytest.fixture(scope="module")
def pretraining_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("pretraining") / "set"
    pretraining.write_pretraining_set(root, seed=0, height=32, width=64, images=3, conditions=["clear", "fog"])
    return root


def test_pretraining_set_captions_say_the_condition(pretraining_set):
    rows = list(csv.DictReader(open(pretraining_set / "captions.csv")))
    assert [row["image"] for row in rows] == [f"{c}_{i:05d}.png" for c in ("clear", "fog") for i in range(3)]
    for row in rows:
        assert row["caption"].endswith(", in fog") == row["image"].startswith("fog")
        assert row["caption"].startswith(row["description"]) and "fog" not in row["description"]
        assert Image.open(pretraining_set / "images" / row["image"]).size == (64, 32)
    with pytest.raises(ValueError, match="unknown pre-training condition"):
        pretraining.write_pretraining_set(pretraining_set.parent / "bad", seed=0, height=32, width=64, images=1,
                                          conditions=["hail"])
    assert not (pretraining_set.parent / "bad").exists()


def test_crops_are_aligned_with_the_latents(pretraining_set):
    dataset = pretraining.CaptionedImages(pretraining_set, 32, seed=0)
    for index in range(len(dataset)):
        item = dataset[index]
        assert item["top"] == 0 and item["left"] % 8 == 0 and 0 <= item["left"] <= 32
        # the crop is the image's own pixels, unresized
        whole = np.asarray(dataset.image(index), dtype=np.float32) / 127.5 - 1
        np.testing.assert_allclose(item["pixels"].permute(1, 2, 0).numpy(),
                                   whole[:, item["left"] : item["left"] + 32], atol=1e-6)


def test_inpainting_unet_starts_as_the_text_to_image_unet():
    """Zero-initialised mask/masked-image channels: the 9-channel UNet's output ignores them."""
    unet = builders.tiny_unet(seed=1)
    inpainting = pretraining.inpainting_unet_from(unet, seed=0)
    latents, text = torch.randn(2, 4, 8, 8), torch.randn(2, 5, builders.TEXT_WIDTH)
    extra = torch.randn(2, 5, 8, 8)
    with torch.no_grad():
        expected = unet(latents, 10, text).sample
        got = inpainting(torch.cat([latents, extra], dim=1), 10, text).sample
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)


def test_vae_scaling_factor_gives_unit_variance_latents(pretraining_set):
    vae = builders.tiny_vae()
    pretraining.train_vae(vae, pretraining.CaptionedImages(pretraining_set, 32, seed=0, crop=16), steps=2,
                          batch_size=2, learning_rate=1e-3, seed=0, log=lambda message: None)
    dataset = pretraining.CaptionedImages(pretraining_set, 32, seed=0, crop=16)
    with torch.no_grad():
        latents = torch.cat([vae.encode(dataset[i]["pixels"][None]).latent_dist.mean for i in range(len(dataset))])
    # a different sample of crops than the one the factor was estimated on: close, not equal
    assert 0.6 < float((latents * vae.config.scaling_factor).std()) < 1.6


def test_the_vae_starts_as_the_autoencoder_of_cell_mean_colours(pretraining_set):
    """Against torch's own pooling: latents 0-2 are each 8x8 cell's mean R, G, B of scenes it
    was not calibrated on, latent 3 is 0, and the decoder repeats the means over their cells."""
    from segrel.generate.demo.vae_start import cell_mean_start

    dataset = pretraining.CaptionedImages(pretraining_set, 32, seed=0)
    images = torch.stack([dataset[i]["pixels"] for i in range(len(dataset))])
    vae = builders.tiny_vae()
    assert cell_mean_start(vae, images[:3]) < 1e-3
    with torch.no_grad():
        posterior = vae.encode(images[3:]).latent_dist
        means = torch.nn.functional.avg_pool2d(images[3:], 8)
        torch.testing.assert_close(posterior.mean[:, :3], means, rtol=0, atol=2e-3)
        assert float(posterior.mean[:, 3].abs().max()) == 0 and float(posterior.std.max()) < 0.01
        repeated = torch.nn.functional.interpolate(means, scale_factor=8, mode="nearest")
        torch.testing.assert_close(vae.decode(posterior.mean).sample, repeated, rtol=0, atol=2e-3)
    # two channels per GroupNorm group cannot carry a colour's level: refused, not half-working
    from diffusers import AutoencoderKL

    narrow = AutoencoderKL.from_config({**vae.config, "norm_num_groups": 8})
    with pytest.raises(ValueError, match="multiple of 4 channels"):
        cell_mean_start(narrow, images[:3])


def test_captioner_learns_what_generate_reads(tmp_path):
    """Trained on one caption, BLIP's own generate (which starts from [DEC]) writes it back:
    the training loss reads the captions the way inference does."""
    from transformers import BlipForConditionalGeneration, BlipProcessor

    root = tmp_path / "one"
    (root / "images").mkdir(parents=True)
    Image.fromarray(np.full((32, 32, 3), 90, np.uint8)).save(root / "images" / "a.png")
    (root / "captions.csv").write_text("image,caption\na.png,a road with cars and trees\n")
    builders.build("captioner", tmp_path / "blip")
    processor = BlipProcessor.from_pretrained(tmp_path / "blip")
    model = BlipForConditionalGeneration.from_pretrained(tmp_path / "blip")
    pretraining.train_captioner(model, processor, pretraining.CaptionedImages(root, 32, seed=0), steps=60,
                                batch_size=1, learning_rate=3e-3, seed=0, log=lambda message: None)
    inputs = processor(images=Image.open(root / "images" / "a.png"), return_tensors="pt")
    with torch.no_grad():
        tokens = model.generate(**inputs, max_new_tokens=12)
    assert processor.decode(tokens[0], skip_special_tokens=True).strip() == "a road with cars and trees"


def test_pretrain_rejects_what_it_does_not_train(tmp_path):
    with pytest.raises(ValueError, match="pre-trains only"):
        pretraining.pretrain("detector", tmp_path / "a", tmp_path / "b", tmp_path / "c", settings={"seed": 0,
                                                                                                   "resolution": 8})
    assert not (tmp_path / "c").exists()
