"""Tiny, offline stand-ins for the generative models of Loiseau et al. 2024, in the Hugging
Face on-disk layout, so that the generation stage loads them with the very
``X.from_pretrained(path)`` calls it uses for the real hub ids (only the path differs).

===================  ========================================  =====================================
name                 stands in for                             loaded with
===================  ========================================  =====================================
stable_diffusion     runwayml/stable-diffusion-v1-5            StableDiffusion(ControlNet)Pipeline
stable_diffusion_xl  stabilityai/stable-diffusion-xl-base-1.0  StableDiffusionXL(ControlNet)Pipeline
inpainting           runwayml/stable-diffusion-inpainting      StableDiffusionInpaintPipeline
captioner            Salesforce/blip-image-captioning-large    BlipProcessor / BlipForConditional…
detector             IDEA-Research/grounding-dino-tiny         GroundingDinoProcessor / …ForObject…
segmenter            facebook/sam-vit-huge                     SamProcessor / SamModel
===================  ========================================  =====================================

The weights are random (seeded: two builds are byte-identical); the demo trains what it needs.
Geometry follows the real models where speed depends on it (measured on 2 CPU cores): the VAE
keeps SD's 8x downsampling (a 2-block VAE made a "tiny" training step 48 s instead of 0.4 s:
self-attention over 8192 latent tokens), the UNet uses 2 attention heads (8 narrow heads
doubled generation time), the detector's processor resizes to the demo's image size (its
default 800/1333 upscaling is 4x slower).

Tokenizers cannot be downloaded: the CLIP one is rebuilt from OpenAI's BPE merges that
mmsegmentation ships (identical ids to SD 1.5's tokenizer); the BERT one (BLIP, Grounding
DINO) keeps bert-base-uncased's special ids, which Grounding DINO hard-codes.
"""

from __future__ import annotations

import gzip
import itertools
import json
import shutil
import string
from pathlib import Path

import torch

# SD 1.5's scheduler config (stable-diffusion-v1-5/scheduler/scheduler_config.json)
SD15_SCHEDULER = {"beta_start": 0.00085, "beta_end": 0.012, "beta_schedule": "scaled_linear",
                  "num_train_timesteps": 1000, "set_alpha_to_one": False, "skip_prk_steps": True,
                  "steps_offset": 1, "clip_sample": False}
TEXT_WIDTH = 32  # tiny CLIP hidden size = the UNet's cross-attention width
# Caption and street-scene words: whole words of the tiny BERT vocabulary.
WORDS = """
a an the of in on at with and or to from by for is are this that there it its photo picture image
view scene street road city urban driving car cars truck bus train motorcycle bicycle bike person
people pedestrian rider building buildings wall fence pole traffic light lights sign signs
vegetation tree trees terrain grass sky sidewalk curb lane parking parked vehicle vehicles highway
intersection day night rain rainy snow snowy fog foggy sunny cloudy dark bright wet dry shadow left
right front back side near far small large big white black red green blue yellow gray standing
walking crossing riding down up over under next behind object objects animal dog cat cow horse
anomaly obstacle box cone india flood
""".split()


# ----------------------------------------------------------------------------- tokenizers


def clip_bpe_file() -> Path:
    """OpenAI's CLIP BPE merges, as shipped inside mmsegmentation (a dependency of segrel)."""
    from segrel.core.packages import mmseg_package_dir

    path = mmseg_package_dir() / "utils" / "bpe_simple_vocab_16e6.txt.gz"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: reinstall mmsegmentation==1.2.2 (it ships CLIP's BPE merges)")
    return path


def _bytes_to_unicode() -> list[str]:
    """CLIP / GPT-2's printable stand-ins for the 256 byte values, in vocabulary order."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    others = [b for b in range(256) if b not in printable]
    return [chr(b) for b in printable] + [chr(256 + i) for i in range(len(others))]


def write_clip_tokenizer(out: Path) -> Path:
    """vocab.json + merges.txt exactly as Hugging Face converted OpenAI's CLIP tokenizer
    (49,408 ids: bytes, bytes + '</w>', the merges, then start/end of text)."""
    out.mkdir(parents=True, exist_ok=True)
    lines = gzip.open(clip_bpe_file()).read().decode("utf-8").split("\n")
    merges = lines[1 : 49152 - 256 - 2 + 1]  # the slice CLIP itself uses
    byte_chars = _bytes_to_unicode()
    vocab = byte_chars + [c + "</w>" for c in byte_chars] + ["".join(m.split(" ")) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    (out / "vocab.json").write_text(json.dumps({token: i for i, token in enumerate(vocab)}, ensure_ascii=False))
    (out / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    special = {"bos_token": "<|startoftext|>", "eos_token": "<|endoftext|>", "unk_token": "<|endoftext|>",
               "pad_token": "<|endoftext|>"}
    (out / "special_tokens_map.json").write_text(json.dumps(special, indent=2))
    config = {"tokenizer_class": "CLIPTokenizer", "model_max_length": 77, "do_lower_case": True,
              "clean_up_tokenization_spaces": False, "errors": "replace", **special}
    (out / "tokenizer_config.json").write_text(json.dumps(config, indent=2))
    return out


def bert_vocab() -> list[str]:
    """An uncased WordPiece vocabulary with bert-base-uncased's ids for [PAD] 0, [UNK] 100,
    [CLS] 101, [SEP] 102, [MASK] 103, '.' 1012, '?' 1029 (Grounding DINO splits phrases at
    101/102/1012/1029, hard-coded). The slots bert-base-uncased leaves '[unused]' hold words,
    so an untrained captioner writes words, not '[unused872]'."""
    words = list(dict.fromkeys(w for w in WORDS if len(w) > 1))
    letters = ("".join(p) for k in (2, 3) for p in itertools.product(string.ascii_lowercase, repeat=k))
    filler = list(dict.fromkeys(itertools.chain(words, letters)))[: 99 + 895]
    vocab = ["[PAD]", *filler[:99], "[UNK]", "[CLS]", "[SEP]", "[MASK]", *filler[99:]]
    characters = [chr(c) for c in range(33, 127) if not chr(c).isupper()]
    vocab += characters + ["##" + c for c in characters]
    vocab += [w for w in words if w not in set(filler)]
    assert (vocab[101], vocab[102], vocab[1012], vocab[1029]) == ("[CLS]", "[SEP]", ".", "?")
    return vocab


def _bert_tokenizer(scratch: Path, **special):
    from transformers import BertTokenizer

    scratch.mkdir(parents=True, exist_ok=True)
    (scratch / "vocab.txt").write_text("\n".join(bert_vocab()) + "\n")
    tokenizer = BertTokenizer(vocab=str(scratch / "vocab.txt"), do_lower_case=True, model_max_length=512)
    if special:
        tokenizer.add_special_tokens(special)
    return tokenizer


# ----------------------------------------------------------------------------- diffusion


def tiny_unet(in_channels: int = 4, seed: int = 0):
    from diffusers import UNet2DConditionModel

    torch.manual_seed(seed)
    # attention_head_dim is the number of heads in diffusers' UNet (SD 1.5: 8)
    return UNet2DConditionModel(sample_size=64, in_channels=in_channels, out_channels=4,
                                block_out_channels=(32, 64), layers_per_block=2,
                                down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
                                cross_attention_dim=TEXT_WIDTH, attention_head_dim=2)


def tiny_vae(seed: int = 0):
    """SD's VAE geometry (8x downsampling, 4 latent channels), narrow; 4 GroupNorm groups so that
    every group holds whole quadruples of channels (segrel.generate.demo.vae_start)."""
    from diffusers import AutoencoderKL

    torch.manual_seed(seed)
    return AutoencoderKL(in_channels=3, out_channels=3, latent_channels=4, block_out_channels=(16, 32, 32, 32),
                         layers_per_block=1, norm_num_groups=4, down_block_types=("DownEncoderBlock2D",) * 4,
                         up_block_types=("UpDecoderBlock2D",) * 4, sample_size=512, scaling_factor=0.18215)


def tiny_text_encoder(vocab_size: int, seed: int = 0):
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(seed)
    return CLIPTextModel(CLIPTextConfig(vocab_size=vocab_size, hidden_size=TEXT_WIDTH, intermediate_size=37,
                                        num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=77,
                                        hidden_act="quick_gelu", projection_dim=32, bos_token_id=vocab_size - 2,
                                        eos_token_id=vocab_size - 1, pad_token_id=vocab_size - 1))


# SD 1.5's betas rescaled to zero terminal SNR, v-prediction, "trailing" timesteps (Lin et al.
# 2024, "Common Diffusion Noise Schedules and Sample Steps are Flawed"; SD 1.5's PNDM cannot
# rescale, DDIM can). With SD 1.5's own schedule the last noisy latent still carries the
# image's mean, so the demo model learnt brightness from it rather than from the prompt: after
# 1,000 pre-training steps "in night", "in fog" and no domain gave the same mid-grey images
# (mean pixel 165 for every prompt; with noise offset and Min-SNR weighting too). With this
# schedule the same training gives 64 for night, 193 fog, 208 snow, 186 no domain.
DEMO_SCHEDULER = {**SD15_SCHEDULER, "prediction_type": "v_prediction", "rescale_betas_zero_snr": True,
                  "timestep_spacing": "trailing"}


def _stable_diffusion(out: Path, pipeline_class, unet_in_channels: int, seed: int) -> None:
    from diffusers import DDIMScheduler
    from transformers import CLIPTokenizer

    tokenizer = CLIPTokenizer.from_pretrained(write_clip_tokenizer(out / "tokenizer"))
    pipeline = pipeline_class(vae=tiny_vae(seed), text_encoder=tiny_text_encoder(len(tokenizer), seed),
                              tokenizer=tokenizer, unet=tiny_unet(unet_in_channels, seed),
                              scheduler=DDIMScheduler.from_config(DEMO_SCHEDULER), safety_checker=None,
                              feature_extractor=None, requires_safety_checker=False)
    pipeline.save_pretrained(out)


def build_stable_diffusion(out: Path, seed: int = 0) -> None:
    """SD 1.5 layout: unet, vae, text_encoder, tokenizer, scheduler (no safety checker)."""
    from diffusers import StableDiffusionPipeline

    _stable_diffusion(out, StableDiffusionPipeline, 4, seed)


def build_inpainting(out: Path, seed: int = 0) -> None:
    """SD inpainting layout: the UNet reads 4 latent + 1 mask + 4 masked-image channels."""
    from diffusers import StableDiffusionInpaintPipeline

    _stable_diffusion(out, StableDiffusionInpaintPipeline, 9, seed)


SDXL_TIME_EMBEDDING = 8  # per size / crop number (SDXL: 256)


def tiny_sdxl_unet(seed: int = 0):
    """SDXL's UNet layout, tiny: cross-attention on both text encoders' states side by side, the
    pooled text embedding and the six size numbers added to the time embedding ("text_time")."""
    from diffusers import UNet2DConditionModel

    torch.manual_seed(seed)
    return UNet2DConditionModel(sample_size=64, in_channels=4, out_channels=4, block_out_channels=(32, 64),
                                layers_per_block=2, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                                up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
                                cross_attention_dim=2 * TEXT_WIDTH, attention_head_dim=2,
                                addition_embed_type="text_time", addition_time_embed_dim=SDXL_TIME_EMBEDDING,
                                projection_class_embeddings_input_dim=TEXT_WIDTH + 6 * SDXL_TIME_EMBEDDING)


def build_stable_diffusion_xl(out: Path, seed: int = 0) -> None:
    """SDXL layout: unet, vae, text_encoder + tokenizer, text_encoder_2 (with projection) +
    tokenizer_2, scheduler. An empty negative prompt is encoded like any prompt (the tiny model
    learns the empty caption, as the demo's SD does), not replaced by zeros."""
    from diffusers import DDIMScheduler, StableDiffusionXLPipeline
    from transformers import CLIPTextModelWithProjection, CLIPTokenizer

    tokenizer = CLIPTokenizer.from_pretrained(write_clip_tokenizer(out / "tokenizer"))
    first = tiny_text_encoder(len(tokenizer), seed)
    torch.manual_seed(seed + 1)
    second = CLIPTextModelWithProjection(first.config)  # its own weights; projection_dim = TEXT_WIDTH
    pipeline = StableDiffusionXLPipeline(vae=tiny_vae(seed), text_encoder=first, text_encoder_2=second,
                                         tokenizer=tokenizer, tokenizer_2=tokenizer, unet=tiny_sdxl_unet(seed),
                                         scheduler=DDIMScheduler.from_config(DEMO_SCHEDULER),
                                         force_zeros_for_empty_prompt=False)
    pipeline.save_pretrained(out)


# ----------------------------------------------------------------------------- captioner, detector, segmenter


def build_captioner(out: Path, seed: int = 0, image_size: int = 64) -> None:
    """BLIP: BERT-uncased WordPiece with '[DEC]' as decoder start and '[ENC]', like Salesforce/blip-*."""
    from transformers import BlipConfig, BlipForConditionalGeneration, BlipImageProcessor, BlipProcessor

    tokenizer = _bert_tokenizer(out / ".vocab", bos_token="[DEC]", additional_special_tokens=["[ENC]"])
    config = BlipConfig(
        text_config={"vocab_size": len(tokenizer), "hidden_size": 32, "intermediate_size": 37, "projection_dim": 32,
                     "num_hidden_layers": 2, "num_attention_heads": 4, "max_position_embeddings": 64,
                     "bos_token_id": tokenizer.bos_token_id, "pad_token_id": tokenizer.pad_token_id,
                     "sep_token_id": tokenizer.sep_token_id, "eos_token_id": tokenizer.sep_token_id},
        vision_config={"hidden_size": 32, "intermediate_size": 37, "projection_dim": 32, "num_hidden_layers": 2,
                       "num_attention_heads": 4, "image_size": image_size, "patch_size": 16},
        projection_dim=32, image_text_hidden_size=32)
    torch.manual_seed(seed)
    model = BlipForConditionalGeneration(config)
    images = BlipImageProcessor(size={"height": image_size, "width": image_size},
                                image_mean=[0.48145466, 0.4578275, 0.40821073],
                                image_std=[0.26862954, 0.26130258, 0.27577711])
    BlipProcessor(image_processor=images, tokenizer=tokenizer).save_pretrained(out)
    model.save_pretrained(out)
    shutil.rmtree(out / ".vocab")


def build_detector(out: Path, seed: int = 0, shortest_edge: int = 256, longest_edge: int = 512) -> None:
    """Grounding DINO (tiny Swin + tiny BERT; decoder_layers >= 2 for the tied box heads)."""
    from transformers import (
        GroundingDinoConfig,
        GroundingDinoForObjectDetection,
        GroundingDinoImageProcessor,
        GroundingDinoProcessor,
    )

    tokenizer = _bert_tokenizer(out / ".vocab")
    config = GroundingDinoConfig(
        backbone_config={"model_type": "swin", "embed_dim": 24, "depths": [1, 1, 1, 1], "num_heads": [1, 1, 1, 1],
                         "window_size": 7, "out_features": ["stage2", "stage3", "stage4"], "out_indices": [2, 3, 4]},
        text_config={"model_type": "bert", "vocab_size": len(tokenizer), "hidden_size": 32, "num_hidden_layers": 1,
                     "num_attention_heads": 2, "intermediate_size": 37, "max_position_embeddings": 256},
        d_model=32, encoder_layers=1, decoder_layers=2, encoder_ffn_dim=64, decoder_ffn_dim=64,
        encoder_attention_heads=2, decoder_attention_heads=2, num_queries=100, num_feature_levels=4,
        max_text_len=256)
    torch.manual_seed(seed)
    model = GroundingDinoForObjectDetection(config)
    images = GroundingDinoImageProcessor(size={"shortest_edge": shortest_edge, "longest_edge": longest_edge})
    GroundingDinoProcessor(image_processor=images, tokenizer=tokenizer).save_pretrained(out)
    model.save_pretrained(out)
    shutil.rmtree(out / ".vocab")


def build_segmenter(out: Path, seed: int = 0, image_size: int = 256) -> None:
    """SAM at ``image_size`` (the real one: 1024); masks come back at the input's size."""
    from transformers import SamConfig, SamImageProcessor, SamModel, SamProcessor

    width = 32
    config = SamConfig(
        vision_config={"hidden_size": width, "output_channels": width, "num_hidden_layers": 2,
                       "num_attention_heads": 2, "image_size": image_size, "patch_size": 16, "window_size": 4,
                       "global_attn_indexes": [1], "num_pos_feats": width // 2, "mlp_dim": 64},
        prompt_encoder_config={"hidden_size": width, "image_size": image_size, "patch_size": 16,
                               "mask_input_channels": 4},
        mask_decoder_config={"hidden_size": width, "mlp_dim": 64, "num_hidden_layers": 2, "num_attention_heads": 2,
                             "iou_head_hidden_dim": width})
    torch.manual_seed(seed)
    model = SamModel(config)
    low_res = image_size // 4  # SAM's low-resolution masks: 256 for 1024
    images = SamImageProcessor(size={"longest_edge": image_size}, pad_size={"height": image_size, "width": image_size},
                               mask_size={"longest_edge": low_res},
                               mask_pad_size={"height": low_res, "width": low_res})
    SamProcessor(image_processor=images).save_pretrained(out)
    model.save_pretrained(out)


BUILDERS = {
    "stable_diffusion": build_stable_diffusion,
    "stable_diffusion_xl": build_stable_diffusion_xl,
    "inpainting": build_inpainting,
    "captioner": build_captioner,
    "detector": build_detector,
    "segmenter": build_segmenter,
}


def build(name: str, out, seed: int = 0) -> None:
    """Write the tiny ``name`` model into ``out`` (atomically: whole or not at all)."""
    from segrel.core.io import atomic_directory

    if name not in BUILDERS:
        raise ValueError(f"no demo generator named {name!r}; known: {', '.join(BUILDERS)}")
    with atomic_directory(out) as scratch:
        BUILDERS[name](Path(scratch), seed=seed)
