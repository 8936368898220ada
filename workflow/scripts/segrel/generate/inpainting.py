"""Geometry of Loiseau et al.'s OOD-object inpainting (reference code valeoai/GenVal).

A square of side U[256, 512] px (at Cityscapes' 1024x2048) is placed in the lower 3/4 of the
image; the crop given to the inpainting model is 1.5x that side around it (context), resized
to 512; the mask is the square, blurred with a 128 px box filter (at 512) so the object blends
in; only the inner square of the result is pasted back (RePaint-style: the context is only
there to condition). Sizes scale with the image, so the demo's small images keep the same
proportions. Then a refinement pass over the whole image and Grounding DINO + SAM on the square
give the object mask; the samples become SMIYC RoadAnomaly21-layout datasets (below).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageFilter

from segrel.core.settings import SectionSettings

REFERENCE_HEIGHT = 1024  # Cityscapes: the sizes below are in pixels at this height
SIDE_RANGE = (256, 512)
CONTEXT_SCALE = 1.5
MODEL_SIZE = 512  # side of the crop the inpainting model sees
MASK_BLUR = 128  # box-blur size in model pixels


@dataclass(frozen=True)
class Box:
    top: int
    left: int
    side: int

    @property
    def pil(self) -> tuple[int, int, int, int]:
        """(left, upper, right, lower) for PIL's crop."""
        return self.left, self.top, self.left + self.side, self.top + self.side


def place_square(height: int, width: int, rng: np.random.Generator, side_range=SIDE_RANGE) -> Box:
    """A square of side U[side_range] (scaled to the image height) inside the lower 3/4.

    >>> box = place_square(1024, 2048, np.random.default_rng(0))
    >>> 256 <= box.side <= 512 and box.top >= 256 and box.top + box.side <= 1024
    True
    """
    scale = height / REFERENCE_HEIGHT
    low, high = (max(1, round(s * scale)) for s in side_range)
    side = int(rng.integers(low, high + 1))
    top_min = height // 4
    if side > height - top_min or side > width:
        raise ValueError(f"a {side} px square does not fit in the lower 3/4 of a {height}x{width} image")
    top = int(rng.integers(top_min, height - side + 1))
    left = int(rng.integers(0, width - side + 1))
    return Box(top, left, side)


def context_box(square: Box, height: int, width: int, scale: float = CONTEXT_SCALE) -> Box:
    """The square crop of side ``scale`` x the square's, centred on it and shifted to stay
    inside the image (its side is capped by the image's shorter side).

    >>> context_box(Box(top=900, left=0, side=100), 1024, 2048)
    Box(top=874, left=0, side=150)
    """
    side = min(round(square.side * scale), height, width)
    centre_y, centre_x = square.top + square.side / 2, square.left + square.side / 2
    top = int(np.clip(round(centre_y - side / 2), 0, height - side))
    left = int(np.clip(round(centre_x - side / 2), 0, width - side))
    return Box(top, left, side)


def inpainting_mask(square: Box, context: Box, size: int = MODEL_SIZE, blur: int = MASK_BLUR) -> Image.Image:
    """Greyscale mask of the square inside the context crop, at the model's size, box-blurred
    (``blur`` model pixels); white = repaint."""
    scale = size / context.side
    mask = Image.new("L", (size, size), 0)
    top, left = (square.top - context.top) * scale, (square.left - context.left) * scale
    inner = (round(left), round(top), round(left + square.side * scale), round(top + square.side * scale))
    mask.paste(255, inner)
    # PIL's BoxBlur radius r averages a (2r + 1) box
    return mask.filter(ImageFilter.BoxBlur(max(0, (blur - 1) // 2))) if blur > 1 else mask


def paste_square(image: Image.Image, inpainted_context: Image.Image, square: Box, context: Box) -> Image.Image:
    """``image`` with only the square part of the inpainted context crop pasted back."""
    result = image.copy()
    restored = inpainted_context.resize((context.side, context.side), Image.BICUBIC)
    offset = (square.left - context.left, square.top - context.top)
    inner = restored.crop((offset[0], offset[1], offset[0] + square.side, offset[1] + square.side))
    result.paste(inner, (square.left, square.top))
    return result


def inpaint_object(pipeline, image: Image.Image, square: Box, prompt: str, *, seed: int, steps: int = 25,
                   guidance: float = 15.0, size: int = MODEL_SIZE, blur: int = MASK_BLUR) -> Image.Image:
    """Paint ``prompt`` into ``square`` of ``image`` with an SD inpainting pipeline: the context
    crop at ``size`` px, the blurred square mask, then only the square pasted back."""
    import torch

    context = context_box(square, image.height, image.width)
    crop = image.crop(context.pil).resize((size, size), Image.BICUBIC)
    mask = inpainting_mask(square, context, size, blur)
    painted = pipeline(prompt=prompt, image=crop, mask_image=mask, height=size, width=size,
                       num_inference_steps=steps, guidance_scale=guidance,
                       generator=torch.Generator().manual_seed(seed)).images[0]
    return paste_square(image, painted, square, context)


def detect_object(detector, detector_processor, segmenter, segmenter_processor, image: Image.Image, text: str, *,
                  box_threshold: float = 0.25, text_threshold: float = 0.25) -> np.ndarray | None:
    """Boolean mask of ``text`` in ``image``: Grounding DINO's best box, then SAM's best of its
    multimask outputs for that box. None when nothing passes the thresholds (the sample is
    then unusable)."""
    import torch

    query = text.lower().strip().rstrip(".") + "."  # Grounding DINO's phrase format
    inputs = detector_processor(images=image, text=query, return_tensors="pt").to(detector.device)
    with torch.no_grad():
        outputs = detector(**inputs)
    detections = detector_processor.post_process_grounded_object_detection(
        outputs, inputs.input_ids, threshold=box_threshold, text_threshold=text_threshold,
        target_sizes=[(image.height, image.width)])[0]
    if len(detections["scores"]) == 0:
        return None
    box = detections["boxes"][int(detections["scores"].argmax())].tolist()
    prompt = segmenter_processor(images=image, input_boxes=[[box]], return_tensors="pt")
    with torch.no_grad():
        predicted = segmenter(**{key: value.to(segmenter.device) for key, value in prompt.items()},
                              multimask_output=True)
    masks = segmenter_processor.post_process_masks(predicted.pred_masks.cpu(), prompt["original_sizes"],
                                                   prompt["reshaped_input_sizes"])[0][0]  # (3, H, W)
    best = int(predicted.iou_scores[0, 0].argmax())
    return masks[best].numpy().astype(bool)


# ----------------------------------------------------------------------------- OOD-object datasets
#
# The whole sample, as GenVal's ood_objects scripts run it: sd_inpaint.py (the context crop,
# above), refine_gen_images.py (the refinement pass) and get_masks.py (Grounding DINO + SAM on the
# square). A failed detection drops the sample; the rest are written in SMIYC RoadAnomaly21 layout.

SAMPLE_COLUMNS = ["sample", "object", "source", "seed", "top", "left", "side", "detected", "mask_pixels"]


def object_prompt(name: str) -> str:
    """Loiseau et al.'s inpainting prompt, the article chosen by the first letter (GenVal's
    script writes "an" before every object).

    >>> object_prompt("elephant"), object_prompt("table")
    ('A photo of an elephant', 'A photo of a table')
    """
    name = name.strip()
    return f"A photo of {'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def sample_id(index: int, name: str) -> str:
    """A sample's id: its index in its set and its object (ids sort by index).

    >>> sample_id(12, "polar bear")
    '00012_polar_bear'
    """
    return f"{index:05d}_{'_'.join(name.split())}"


def anomaly_items(objects: Sequence[str], sources: Sequence, images: int) -> list[tuple[str, str, object]]:
    """(sample id, object, source sample) of a set of ``images`` samples: the objects and the
    source images both cycled in order, so every object gets the same number of samples (+-1).

    >>> [(name, source) for name, _, source in anomaly_items(["lion", "box"], "xyz", 4)]
    [('00000_lion', 'x'), ('00001_box', 'y'), ('00002_lion', 'z'), ('00003_box', 'x')]
    """
    return [(sample_id(index, objects[index % len(objects)]), objects[index % len(objects)],
             sources[index % len(sources)]) for index in range(images)]


def square_mask(shape: tuple[int, int], square: Box) -> np.ndarray:
    """Boolean (H, W) mask of the square."""
    mask = np.zeros(shape, bool)
    mask[square.top : square.top + square.side, square.left : square.left + square.side] = True
    return mask


def refine(pipeline, image: Image.Image, square: Box, text: str, *, seed: int, strength: float = 0.65,
           steps: int = 50, guidance: float = 7.5) -> Image.Image:
    """GenVal's refinement pass (refine_gen_images.py): the same SD inpainting model over the
    whole image, prompt = the object name, ``strength`` 0.65, mask = the square (sharp).

    Not a full-white mask: GenVal masks the square, so only the object is re-noised and redrawn,
    harmonised with the now fully visible scene. SD-inpainting's 9-channel UNet is not blended
    back outside the mask (diffusers does that only for 4-channel UNets), so every pixel comes
    out of the VAE: the scene is re-rendered around the object, as in the published images, and
    the control set shows what that alone does to the OOD scores. At ``strength`` s the last
    int(s x ``steps``) scheduler steps run (GenVal: diffusers' defaults, 50 steps, guidance 7.5).
    """
    import torch

    if image.height % 8 or image.width % 8:
        raise ValueError(f"the refinement pass runs at the image's size; {image.width}x{image.height} is not a "
                         "multiple of 8 (Stable Diffusion's latent grid): use source images whose sides are")
    mask = Image.fromarray(square_mask((image.height, image.width), square).astype(np.uint8) * 255)
    return pipeline(prompt=text, image=image, mask_image=mask, height=image.height, width=image.width,
                    strength=strength, num_inference_steps=steps, guidance_scale=guidance,
                    generator=torch.Generator().manual_seed(seed)).images[0]


@dataclass(frozen=True)
class Models:
    inpainting: object
    detector: object
    detector_processor: object
    segmenter: object
    segmenter_processor: object


def load_models(inpainting: str, detector: str | None, segmenter: str | None, device: str = "cpu") -> Models:
    """SD inpainting (fp16 on CUDA, as GenVal), Grounding DINO and SAM (fp32); no detector and
    SAM (None) when the object mask is the repainted square."""
    import torch
    from diffusers import StableDiffusionInpaintPipeline
    from transformers import GroundingDinoForObjectDetection, GroundingDinoProcessor, SamModel, SamProcessor

    dtype = torch.float16 if device.startswith("cuda") else torch.float32
    pipeline = StableDiffusionInpaintPipeline.from_pretrained(inpainting, dtype=dtype, safety_checker=None,
                                                              requires_safety_checker=False)
    pipeline.set_progress_bar_config(disable=True)
    if detector is None or segmenter is None:
        return Models(pipeline.to(device), None, None, None, None)
    return Models(pipeline.to(device),
                  GroundingDinoForObjectDetection.from_pretrained(detector).eval().to(device),
                  GroundingDinoProcessor.from_pretrained(detector),
                  SamModel.from_pretrained(segmenter).eval().to(device), SamProcessor.from_pretrained(segmenter))


@dataclass(frozen=True)
class InpaintedSample:
    image: Image.Image  # the refined image, at the source image's size
    square: Box
    mask: np.ndarray | None  # (H, W) bool object mask in image coordinates; None = detection failed


@dataclass(frozen=True, kw_only=True)
class InpaintingSettings(SectionSettings):
    """How one sample is made: the per-sample part of ``generation.anomalies`` (the
    inpaint_anomaly_shard rule's ``params.settings``)."""

    SECTION = "generation.anomalies (per-sample settings)"

    # no defaults: the schema owns them, and a key the rule forgot is an error, not a silent default
    steps: int  # inpainting denoising steps
    guidance: float  # inpainting classifier-free guidance (Loiseau et al. 15)
    resolution: int  # side of the context crop the model sees; the mask blur scales with it
    refinement_strength: float  # the square re-noised to this level in the refinement pass
    refinement_steps: int  # refinement scheduler steps, of which strength x steps run
    refinement_guidance: float  # refinement guidance scale
    box_threshold: float  # Grounding DINO
    text_threshold: float  # Grounding DINO
    object_mask: str  # "detected" (Grounding DINO + SAM) or "square" (the repainted square)

    def __post_init__(self):
        if self.object_mask not in ("detected", "square"):
            raise ValueError(f"object_mask must be 'detected' or 'square', not {self.object_mask!r}")


def inpaint_sample(models: Models, image: Image.Image, name: str, *, seed: int,
                   settings: InpaintingSettings) -> InpaintedSample:
    """One sample: place the square (seeded), inpaint ``name`` on its context crop, refine the
    whole image, detect ``name`` on the refined square. An empty SAM mask counts as a failed
    detection too: a sample without anomaly pixels tests nothing. ``settings.object_mask``
    "square" labels the whole repainted square instead of detecting (for when no detector that knows
    the objects is at hand, as in the demo, whose tiny detector is untrained)."""
    from segrel.core.seeds import image_seed

    square = place_square(image.height, image.width, np.random.default_rng(seed))
    blur = max(1, round(MASK_BLUR * settings.resolution / MODEL_SIZE))  # 128 px at 512
    painted = inpaint_object(models.inpainting, image, square, object_prompt(name), seed=seed, steps=settings.steps,
                             guidance=settings.guidance, size=settings.resolution, blur=blur)
    refined = refine(models.inpainting, painted, square, name, seed=image_seed(seed, "refinement"),
                     strength=settings.refinement_strength, steps=settings.refinement_steps,
                     guidance=settings.refinement_guidance)
    if settings.object_mask == "square":
        found = np.ones((square.side, square.side), bool)
    else:
        found = detect_object(models.detector, models.detector_processor, models.segmenter,
                              models.segmenter_processor, refined.crop(square.pil), name,
                              box_threshold=settings.box_threshold, text_threshold=settings.text_threshold)
    if found is None or not found.any():
        return InpaintedSample(refined, square, None)
    mask = np.zeros((image.height, image.width), bool)
    mask[square.top : square.top + square.side, square.left : square.left + square.side] = found
    return InpaintedSample(refined, square, mask)


def anomaly_label(mask: np.ndarray, void: np.ndarray | None = None) -> np.ndarray:
    """RoadAnomaly21 encoding (``*_labels_semantic.png``): 1 on the object, 0 elsewhere, 255 on
    ``void`` pixels that are not the object (e.g. the rest of the repainted square).

    >>> anomaly_label(np.array([[True, False, False]]), void=np.array([[True, True, False]]))
    array([[  1, 255,   0]], dtype=uint8)
    """
    from segrel.core import labels as lb

    label = np.full(mask.shape, lb.ANOMALY_NOT, np.uint8)
    if void is not None:
        label[void] = lb.ANOMALY_VOID
    label[mask] = lb.ANOMALY_YES
    return label


def write_anomaly_shard(out, models: Models, items, *, set_name: str, seed: int, settings: InpaintingSettings,
                        void_square: bool = False, progress=None) -> pd.DataFrame:
    """Generate ``items`` (see :func:`anomaly_items`) into ``out``: ``images/<id>.png`` and
    ``labels/<id>_labels_semantic.png`` for each detected sample, and ``samples.csv`` with a row
    for every sample (detected or not). Each sample's seed comes from (seed, set, id) only, so a
    sample does not depend on the shard that makes it. ``void_square``: label the rest of
    the repainted square void."""
    from segrel.core.formats import read_image
    from segrel.core.io import save_png
    from segrel.core.seeds import image_seed

    out = Path(out)
    rows = []
    for name, obj, source in progress(items) if progress else items:
        sample_seed = image_seed(seed, set_name, name)
        result = inpaint_sample(models, Image.fromarray(read_image(source.image)), obj, seed=sample_seed,
                                settings=settings)
        detected = result.mask is not None
        if detected:
            void = square_mask(result.mask.shape, result.square) if void_square else None
            save_png(out / "images" / f"{name}.png", np.asarray(result.image.convert("RGB")))
            save_png(out / "labels" / f"{name}_labels_semantic.png", anomaly_label(result.mask, void))
        rows.append({"sample": name, "object": obj, "source": source.name, "seed": sample_seed,
                     "top": result.square.top, "left": result.square.left, "side": result.square.side,
                     "detected": detected, "mask_pixels": int(result.mask.sum()) if detected else 0})
    table = pd.DataFrame(rows, columns=SAMPLE_COLUMNS)
    out.mkdir(parents=True, exist_ok=True)
    table.to_csv(out / "samples.csv", index=False)
    return table


def read_samples(shards) -> pd.DataFrame:
    """The shards' ``samples.csv`` tables, as one, in sample order."""
    tables = [pd.read_csv(Path(shard) / "samples.csv", keep_default_na=False) for shard in shards]
    return pd.concat(tables, ignore_index=True).sort_values("sample", ignore_index=True)


def write_anomaly_dataset(out, shards, *, set_label: str, keep: Sequence[str] | None = None) -> pd.DataFrame:
    """The detected samples of ``shards`` (only those in ``keep`` when given) as one RoadAnomaly21
    dataset (format smiyc_png: lossless): ``dataset_AnomalyTrack/images/validationNNNN.png`` and
    ``labels_masks/validationNNNN_labels_semantic.png``, numbered in sample-id order, and
    ``samples.csv`` (image name -> sample) at the root. An empty set is an error: evaluating it
    would measure nothing."""
    import os
    import shutil

    from segrel.core.io import merge_trees

    out = Path(out)
    table = read_samples(shards)
    kept = table[table.detected.astype(bool)]
    if keep is not None:
        missing = sorted(set(keep) - set(kept["sample"]))
        if missing:
            raise ValueError(f"generation.anomalies.curated names samples that are not detected in {set_label}: "
                             f"{', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''} (see "
                             "results/tables/generate/inpainting_detections.csv); remove them from the list")
        kept = kept[kept["sample"].isin(set(keep))]
    if kept.empty:
        raise ValueError(f"no sample of {set_label} was detected ({len(table)} generated, "
                         f"{int((~table.detected.astype(bool)).sum())} failed detection): an empty dataset measures "
                         "nothing; lower generation.anomalies.box_threshold / text_threshold or generate more images")
    # hard links of every shard file, then the kept ones renamed into place (same filesystem)
    staging = out / ".shards"
    merge_trees(shards, staging, ignore=(".snakemake_timestamp", "samples.csv"))
    track = out / "dataset_AnomalyTrack"
    (track / "images").mkdir(parents=True)
    (track / "labels_masks").mkdir()
    digits = max(4, len(str(len(kept) - 1)))  # names sort in numeric order
    names = [f"validation{index:0{digits}d}" for index in range(len(kept))]
    for name, sample in zip(names, kept["sample"]):
        os.replace(staging / "images" / f"{sample}.png", track / "images" / f"{name}.png")
        os.replace(staging / "labels" / f"{sample}_labels_semantic.png",
                   track / "labels_masks" / f"{name}_labels_semantic.png")
    shutil.rmtree(staging)
    kept = kept.assign(image=names)[["image", *SAMPLE_COLUMNS]]
    kept.to_csv(out / "samples.csv", index=False)
    return kept


def detection_table(sets: dict[str, pd.DataFrame], curated: dict[str, Sequence[str]] | None = None) -> pd.DataFrame:
    """Per (set, object): samples generated, detected, failed, and kept by the set's curated list
    (``curated``: set -> sample ids); objects in the order of their first sample."""
    rows = []
    for set_name, table in sets.items():
        detected = table.detected.astype(bool)
        for obj, group in table.groupby("object", sort=False):
            hits = detected[group.index]
            rows.append({"set": set_name, "object": obj, "generated": len(group), "detected": int(hits.sum()),
                         "failed": int((~hits).sum()),
                         "curated": int(group["sample"].isin(set((curated or {}).get(set_name, ()))).sum())})
    return pd.DataFrame(rows, columns=["set", "object", "generated", "detected", "failed", "curated"])
