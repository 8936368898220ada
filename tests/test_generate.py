"""The generation stage's building blocks: the offline tiny generators load with the pipelines'
own from_pretrained calls (from a directory or from a Hugging Face cache), the CLIP tokenizer
matches Stable Diffusion 1.5's published ids, and the captions rule captions every image."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from segrel.generate.demo import builders


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("generators")
    for name in builders.BUILDERS:
        builders.build(name, root / name)
    return root


def test_clip_tokenizer_reproduces_stable_diffusion_ids(built):
    from transformers import CLIPTokenizer

    tokenizer = CLIPTokenizer.from_pretrained(built / "stable_diffusion", subfolder="tokenizer")
    # SD 1.5 / openai/clip-vit-large-patch14: <|startoftext|> a photo of a cat <|endoftext|>
    assert tokenizer("a photo of a cat").input_ids == [49406, 320, 1125, 539, 320, 2368, 49407]
    assert len(tokenizer) == 49408


def test_bert_vocab_keeps_the_ids_grounding_dino_hard_codes():
    from transformers.models.grounding_dino import modeling_grounding_dino

    vocab = builders.bert_vocab()
    assert [vocab.index(t) for t in ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")] == [0, 100, 101, 102, 103]
    hard_coded = modeling_grounding_dino.SPECIAL_TOKENS  # [CLS], [SEP], '.', '?' in bert-base-uncased
    assert [vocab[i] for i in hard_coded] == ["[CLS]", "[SEP]", ".", "?"]


def test_builds_are_deterministic_and_pipelines_run(built, tmp_path):
    builders.build("segmenter", tmp_path / "again")
    again, first = tmp_path / "again" / "model.safetensors", built / "segmenter" / "model.safetensors"
    assert again.read_bytes() == first.read_bytes()
    from diffusers import StableDiffusionInpaintPipeline, StableDiffusionPipeline

    image = StableDiffusionPipeline.from_pretrained(built / "stable_diffusion")(
        "a street, in fog", num_inference_steps=2, height=64, width=128, output_type="np").images
    assert image.shape == (1, 64, 128, 3) and np.isfinite(image).all()
    inpaint = StableDiffusionInpaintPipeline.from_pretrained(built / "inpainting")
    assert inpaint.unet.config.in_channels == 9
    with pytest.raises(ValueError, match="no demo generator named 'vae'"):
        builders.build("vae", tmp_path / "vae")
    assert not (tmp_path / "vae").exists()


def test_captioner_loads_from_a_hugging_face_cache_offline(built, tmp_path):
    # the hub layout: models--<org>--<name>/snapshots/<revision>/ and refs/main naming it
    repo = tmp_path / "hub" / "models--Salesforce--blip-image-captioning-large"
    revision = "0" * 40
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(revision)
    import shutil

    shutil.copytree(built / "captioner", repo / "snapshots" / revision)
    code = ("from segrel.generate.captions import load_captioner; "
            "p, m = load_captioner('Salesforce/blip-image-captioning-large'); print(type(m).__name__)")
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "hub"), "HF_HUB_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("BlipForConditionalGeneration")


# the demo generators' pre-training, a few steps on a few scenes (the workflow tests check wiring)
TINY_PRETRAINING = {"images_per_condition": 2, "conditions": ["clear", "fog"],
                    **{part: {"steps": 2, "batch_size": 2} for part in
                       ("vae", "stable_diffusion", "inpainting", "captioner")}}

TINY_CAPTIONS = {
    "datasets": {"cityscapes": {"format": "cityscapes", "source": "demo"}},
    "demo": {"seed": 2, "height": 64, "width": 128, "cityscapes": {"train": {"aachen": 3}, "val": {"lindau": 2}}},
    # the generate target needs no segmenter, but a study always names one
    "models": {"segformer_b0": {"family": "SegFormer",
                                "base": "segformer/segformer_mit-b0_8xb1-160k_cityscapes-1024x1024.py"}},
    "test_sets": {"cityscapes_val": {"dataset": "cityscapes", "split": "val"}},
    "generation": {"captions": {"sets": {"cs_train": {"dataset": "cityscapes", "split": "train"}},
                                "batch_size": 2, "max_new_tokens": 8},
                   "controlnet": {"train_set": "cs_train", "resolution": 64,
                                  "validation": {"caption_set": "cs_train"}},
                   "demo_pretraining": TINY_PRETRAINING},
}


@pytest.mark.workflow
def test_caption_rule_captions_every_image(snakemake, tmp_path):
    snakemake(tmp_path, TINY_CAPTIONS, "--cores", "2", "results/generate/captions/cs_train.csv")
    table = pd.read_csv(tmp_path / "results" / "generate" / "captions" / "cs_train.csv")
    from segrel.core import formats

    samples = formats.list_samples("cityscapes", tmp_path / "resources" / "datasets" / "cityscapes", "train")
    assert table.image.tolist() == [s.name for s in samples]
    # reference: transformers' own generate on one image at a time, outside the rule
    from PIL import Image
    from transformers import BlipForConditionalGeneration, BlipProcessor

    model_dir = tmp_path / "resources" / "generators" / "captioner"
    processor = BlipProcessor.from_pretrained(model_dir)
    model = BlipForConditionalGeneration.from_pretrained(model_dir).eval()
    for sample, caption in zip(samples, table.caption):
        with torch.no_grad():
            tokens = model.generate(**processor(images=Image.open(sample.image).convert("RGB"), return_tensors="pt"),
                                    max_new_tokens=8)
        assert caption == processor.decode(tokens[0], skip_special_tokens=True).strip()


@pytest.mark.parametrize("generator", ["stable_diffusion", "stable_diffusion_xl"])
def test_controlnet_training_resumes_bit_exactly(built, tmp_path, generator):
    """2 optimiser steps straight == 1 step, stop, resume from the checkpoint, 1 more step (SD's
    and SDXL's conditioning alike)."""
    from dataclasses import replace

    from safetensors.torch import load_file

    from segrel.core import formats
    from segrel.data.demo.writers import write_cityscapes
    from segrel.generate.controlnet import ControlNetSettings, TrainingExample, train_controlnet

    write_cityscapes(tmp_path / "cs", seed=0, height=64, width=128, cities={"train": {"aachen": 3}})
    examples = [TrainingExample(s.image, s.label, "a street") for s in
                formats.list_samples("cityscapes", tmp_path / "cs", "train")]
    settings = ControlNetSettings(resolution=64, learning_rate=1e-3, batch_size=2, gradient_accumulation=2,
                                  max_steps=2, mixed_precision="no", checkpoint_every=1, seed=0, condition="palette",
                                  conditioning_channels=(4, 8, 8, 16))
    one_step = replace(settings, max_steps=1)
    base, quiet = built / generator, lambda message: None
    train_controlnet(base, examples, tmp_path / "straight", tmp_path / "work-straight", settings, log=quiet)
    train_controlnet(base, examples, tmp_path / "resumed", tmp_path / "work-resumed", one_step, log=quiet)
    train_controlnet(base, examples, tmp_path / "resumed", tmp_path / "work-resumed", settings, log=quiet)
    straight = load_file(tmp_path / "straight" / "diffusion_pytorch_model.safetensors")
    resumed = load_file(tmp_path / "resumed" / "diffusion_pytorch_model.safetensors")
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)
    # and training moved the weights away from the UNet-initialised ControlNet
    (run,) = (tmp_path / "work-resumed").iterdir()
    first = load_file(run / "checkpoint-1" / "model.safetensors")
    assert any(not torch.equal(first[k], straight[k]) for k in straight if k in first)
    # other settings: the checkpoints are not this run's, so it starts afresh and drops them
    logged = []
    train_controlnet(base, examples, tmp_path / "other", tmp_path / "work-resumed",
                     replace(one_step, learning_rate=2e-3), log=logged.append)
    assert not any(line.startswith("resumed from") for line in logged) and not run.exists()
    # the conditioning embedding as configured; one that does not reach the latents' size is refused
    config = json.loads((tmp_path / "straight" / "config.json").read_text())
    assert config["conditioning_embedding_out_channels"] == [4, 8, 8, 16]
    with pytest.raises(ValueError, match=r"conditioning_channels \[4, 8\]: this generator's VAE downsamples 3 times, "
                                         r"so give 4 channel counts"):
        train_controlnet(base, examples, tmp_path / "bad", tmp_path / "work-bad",
                         replace(one_step, conditioning_channels=(4, 8)), log=quiet)
    assert not (tmp_path / "bad").exists()


SCHEMA = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml"


def test_settings_objects_take_what_the_rules_pass():
    """Each rule's params dict (the validated config sections) builds its settings object; an
    unknown or a missing key is one error naming it."""
    from segrel.config import validate_config
    from segrel.generate.controlnet import ControlNetSettings
    from segrel.generate.domains import DomainGenerationSettings
    from segrel.generate.inpainting import InpaintingSettings

    generation = validate_config({}, SCHEMA)["generation"]
    controlnet = {key: value for key, value in generation["controlnet"].items()
                  if key not in ("validation", "train_set")}
    assert ControlNetSettings.from_params(controlnet).max_steps == 3500
    assert DomainGenerationSettings.from_params(generation["domain_generation"]).seed == 0
    assert InpaintingSettings.from_section(generation["anomalies"]).guidance == 15  # Loiseau et al.
    sample = {key: value for key, value in generation["anomalies"].items() if key in InpaintingSettings.__annotations__}
    del sample["steps"]  # a key the rule did not pass is an error, not a silent default
    with pytest.raises(ValueError, match=r"generation.anomalies \(per-sample settings\) needs the setting\(s\) steps$"):
        InpaintingSettings.from_params(sample)
    unknown = r"generation.controlnet has no setting\(s\) train_set, validation \(its settings: "
    with pytest.raises(ValueError, match=unknown):
        ControlNetSettings.from_params(generation["controlnet"])
    with pytest.raises(ValueError, match=r"generation.domain_generation needs the setting\(s\) steps"):
        DomainGenerationSettings.from_params({k: v for k, v in generation["domain_generation"].items() if k != "steps"})


def test_square_crop_takes_the_full_height_and_resizes_nearest():
    from PIL import Image

    from segrel.generate.controlnet import random_square_crop

    label = np.tile(np.arange(8, dtype=np.uint8), (4, 1))  # 4 x 8, column index as id
    image = Image.fromarray(np.repeat(label[..., None] * 10, 3, axis=2))
    cropped_image, cropped_label = random_square_crop(image, label, 8, np.random.default_rng(0))
    assert cropped_label.shape == (8, 8)
    columns = np.unique(cropped_label)
    assert len(columns) == 4 and np.ptp(columns) == 3  # 4 consecutive columns, no new values
    np.testing.assert_array_equal(np.asarray(cropped_image)[..., 0], cropped_label * 10)  # same crop, nearest


TINY_GENERATION = {
    "captions": {"batch_size": 2, "max_new_tokens": 8},
    "controlnet": {"resolution": 64, "batch_size": 2, "gradient_accumulation": 1, "max_steps": 2,
                   "checkpoint_every": 1, "validation": {"images": 2, "steps": 2}},
    "domains": {"fog": "fog"},
    "domain_generation": {"images": 3, "shards": 2, "steps": 2},
    "demo_pretraining": TINY_PRETRAINING,
}


@pytest.mark.workflow
def test_domain_generation_makes_an_evaluated_cityscapes_test_set(snakemake, tiny_study, tmp_path):
    from segrel.core import formats
    from segrel.generate.domains import domain_items

    study = tiny_study(TINY_GENERATION)
    study["analysis"]["rare_domains"] = {"domains": {"flood": "flood"}, "models": ["segformer_b0"], "images": 1}
    snakemake(tmp_path, study, "--cores", "2")
    root = tmp_path / "resources" / "datasets"
    generated = formats.list_samples("cityscapes", root / "synthetic_fog", "val")
    # 3 images, each from a random source map (of 2) and a random square crop, as GenVal draws them
    items = domain_items(sorted(formats.list_samples("cityscapes", root / "cityscapes", "val"), key=lambda s: s.name),
                         3, seed=0)
    assert [s.name for s in generated] == sorted(item.name for item in items)
    by_name = {item.name: item for item in items}
    for sample in generated:
        item = by_name[sample.name]
        original = formats.read_ids(item.sample.label)
        # 64x128 map, 64 px square: 64 columns from the drawn offset, unscaled
        left = min(int(item.position * 65), 64)
        np.testing.assert_array_equal(formats.read_ids(sample.label), original[:, left : left + 64])
        assert formats.read_image(sample.image).shape == (64, 64, 3)
    assert len({by_name[s.name].position for s in generated}) == 3
    metrics = pd.read_csv(tmp_path / "results" / "tables" / "metrics.csv")
    assert metrics[(metrics.test_set == "synthetic_fog") & (metrics.measure == "images")].value.item() == 3
    # the reference: the same maps with their real images, cut the same way
    reference = formats.list_samples("cityscapes", root / "domain_reference", "val")
    assert [s.name for s in reference] == [s.name for s in generated]
    for real, sample in zip(reference, generated):
        item = by_name[real.name]
        left = min(int(item.position * 65), 64)
        np.testing.assert_array_equal(formats.read_image(real.image),
                                      formats.read_image(item.sample.image)[:, left : left + 64])
        np.testing.assert_array_equal(formats.read_ids(real.label), formats.read_ids(sample.label))
    miou = metrics[metrics.measure == "miou"].set_index("test_set").value
    fidelity = pd.read_csv(tmp_path / "results" / "tables" / "fidelity.csv")
    assert fidelity[["model", "domain", "test_set"]].values.tolist() == [["segformer_b0", "fog", "synthetic_fog"]]
    assert fidelity.relative_fidelity.item() == pytest.approx(miou["synthetic_fog"] / miou["domain_reference"],
                                                              nan_ok=True)
    for figure in ("controlnet_validation", "domains"):
        assert (tmp_path / "results" / "figures" / "generate" / f"{figure}.png").is_file(), figure
    # Fig. 7: a rare domain generated by the same rule, drawn, and not a test set
    flood = formats.list_samples("cityscapes", tmp_path / "resources" / "synthetic" / "flood" / "shard-0-of-1", "val")
    assert len(flood) == 1 and "synthetic_flood" not in set(metrics.test_set)
    drawn = pd.read_csv(tmp_path / "results" / "tables" / "figures" / "rare_domains.csv")
    assert drawn[["domain", "image", "model"]].values.tolist() == [["flood", flood[0].name, "segformer_b0"]]

    # one shard or two: the same images (each has its own seed; batch size 1)
    before = {s.name: s.image.read_bytes() for s in generated}
    one_shard = tiny_study({**TINY_GENERATION, "domain_generation": {"images": 3, "shards": 1, "steps": 2}})
    snakemake(tmp_path, one_shard, "--cores", "2", "resources/datasets/synthetic_fog")
    after = {s.name: s.image.read_bytes() for s in formats.list_samples("cityscapes", root / "synthetic_fog", "val")}
    assert after == before


def test_inpainting_and_detection_run_on_the_tiny_models(built):
    from diffusers import StableDiffusionInpaintPipeline
    from PIL import Image
    from transformers import GroundingDinoForObjectDetection, GroundingDinoProcessor, SamModel, SamProcessor

    from segrel.generate.inpainting import Box, detect_object, inpaint_object

    rng = np.random.default_rng(0)
    image = Image.fromarray(rng.integers(0, 255, size=(128, 256, 3), dtype=np.uint8))
    pipeline = StableDiffusionInpaintPipeline.from_pretrained(built / "inpainting")
    pipeline.set_progress_bar_config(disable=True)
    square = Box(top=48, left=100, side=48)
    painted = inpaint_object(pipeline, image, square, "A photo of a lion", seed=0, steps=2, size=64, blur=9)
    before, after = np.asarray(image), np.asarray(painted)
    outside = np.ones(before.shape[:2], bool)
    outside[48:96, 100:148] = False
    np.testing.assert_array_equal(after[outside], before[outside])  # only the square changed
    assert (after[~outside] != before[~outside]).any()
    again = inpaint_object(pipeline, image, square, "A photo of a lion", seed=0, steps=2, size=64, blur=9)
    np.testing.assert_array_equal(np.asarray(again), after)  # seeded

    detector = GroundingDinoForObjectDetection.from_pretrained(built / "detector").eval()
    segmenter = SamModel.from_pretrained(built / "segmenter").eval()
    crop = painted.crop(square.pil)
    mask = detect_object(detector, GroundingDinoProcessor.from_pretrained(built / "detector"), segmenter,
                         SamProcessor.from_pretrained(built / "segmenter"), crop, "lion", box_threshold=0.0,
                         text_threshold=0.0)
    assert mask is not None and mask.shape == (48, 48) and mask.dtype == bool
    nothing = detect_object(detector, GroundingDinoProcessor.from_pretrained(built / "detector"), segmenter,
                            SamProcessor.from_pretrained(built / "segmenter"), crop, "lion", box_threshold=1.01,
                            text_threshold=1.01)
    assert nothing is None  # a failed detection is reported, not papered over


def test_sdxl_conditioning_is_the_pipelines_own(built):
    """The training loops condition SDXL's UNet as StableDiffusionXLPipeline.encode_prompt and
    _get_add_time_ids do (penultimate hidden states side by side, the projection's pooled
    embedding, the image size as time ids); SD as StableDiffusionPipeline does."""
    from diffusers import DiffusionPipeline

    from segrel.generate.conditioning import TextConditioning, is_sdxl

    for name in ("stable_diffusion", "stable_diffusion_xl"):
        pipeline = DiffusionPipeline.from_pretrained(built / name)
        conditioning = TextConditioning.from_pretrained(str(built / name))
        assert is_sdxl(str(built / name)) == conditioning.xl == (name == "stable_diffusion_xl")
        text, added = conditioning.encode(conditioning.tokenize(["a street, in fog", ""]), 64)
        expected = pipeline.encode_prompt(["a street, in fog", ""], device="cpu", num_images_per_prompt=1,
                                          do_classifier_free_guidance=False)
        assert torch.allclose(text, expected[0])
        if conditioning.xl:
            assert torch.allclose(added["text_embeds"], expected[2])
            time_ids = pipeline._get_add_time_ids((64, 64), (0, 0), (64, 64), dtype=text.dtype,
                                                  text_encoder_projection_dim=pipeline.text_encoder_2.config.projection_dim)
            assert torch.equal(added["time_ids"], time_ids.repeat(2, 1))
        else:
            assert added is None


def test_an_sdxl_controlnet_steers_the_sdxl_pipeline(built, tmp_path):
    from diffusers import ControlNetModel

    from segrel.generate.domains import generate, load_pipeline

    base = built / "stable_diffusion_xl"
    ControlNetModel.from_unet(__import__("diffusers").UNet2DConditionModel.from_pretrained(base, subfolder="unet")
                              ).save_pretrained(tmp_path / "controlnet")
    pipeline = load_pipeline(str(base), str(tmp_path / "controlnet"))
    assert type(pipeline).__name__ == "StableDiffusionXLControlNetPipeline"
    label = np.full((64, 64), 7, np.uint8)  # road
    (image,) = generate(pipeline, [label], ["a street, in fog"], [0], steps=2, guidance=1.5, condition="palette")
    assert image.shape == (64, 64, 3) and image.dtype == np.uint8
