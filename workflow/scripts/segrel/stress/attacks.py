"""White-box attacks on mmseg segmentors (SemSegBench): PGD, SegPGD, CosPGD and BIM under l_inf
and l_2 budgets, and ReM.

As the published code (shashankskagnihotri/cospgd and the SemSegBench fork of mmseg), the
perturbation lives in raw pixel space and the model's own preprocessing (channel order,
normalisation, padding: mmseg's data preprocessor) is inside the differentiated graph, as are
its test-mode inference (whole image or sliding window, as its test_cfg says) and the resize of
the logits to the labels' resolution. The loss is the per-pixel cross-entropy of those logits
(the decode head's; auxiliary heads are not used), void (255) pixels excluded. Two departures
from the published code, both what its paper states: each sample of a batch is attacked with
its own ground truth (the code reads the last sample's for the whole batch), and the attacked
image is scored by the forward mode it was attacked through (the code attacks whole images and
scores some models with a sliding window).

Pixel values are on the 0-255 scale: the paper's l_inf budget eps 8/255, step 0.01 on [0, 1]
images is eps 8, alpha 2.55 here; its l_2 budget eps 64 (0-255 scale), step 0.1 on [0, 1] is
eps 64, alpha 25.5 (an l_2 norm scales with the values).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as F

from segrel.core import labels as lb
from segrel.stress.catalogue import ATTACK_NORMS, ATTACKS

#: the attacks that start from a random point of the eps-ball (BIM starts from the image)
RANDOM_START = ("pgd", "segpgd", "cospgd")
PIXEL_RANGE = (0.0, 255.0)


@dataclass(frozen=True)
class AttackSettings:
    """One threat model (test_sets.<name>.attack). ``target``: None (untargeted: push every
    pixel away from its ground truth) or a train id every labelled pixel is pushed towards (the
    published code's targeted variant); ``images``: attack only the first this many images of
    the test set; ``seed``: of the random starts (each image draws its own); ``batch_size``:
    images per attacked batch (None: the evaluation's; a backward pass needs several times a
    forward pass's memory)."""

    name: str
    norm: str
    eps: float
    alpha: float
    iterations: int
    target: int | None = None
    images: int | None = None
    seed: int = 0
    batch_size: int | None = None

    def __post_init__(self):
        if self.name not in ATTACKS:
            raise ValueError(f"unknown attack {self.name!r}; known: {', '.join(ATTACKS)}")
        if self.norm not in ATTACK_NORMS:
            raise ValueError(f"unknown attack norm {self.norm!r}; known: {', '.join(ATTACK_NORMS)}")
        if not self.eps > 0 or not self.alpha > 0:
            raise ValueError(f"attack eps and alpha must be > 0 (0-255 scale), got eps {self.eps}, "
                             f"alpha {self.alpha}")
        if self.iterations < 1:
            raise ValueError(f"attack iterations must be >= 1, got {self.iterations}")
        if self.target is not None and not 0 <= self.target < lb.NUM_CLASSES:
            raise ValueError(f"attack target must be a train id 0-{lb.NUM_CLASSES - 1}, got {self.target}")

    def to_json(self) -> str:
        """The settings as a canonical string (what an evaluation state records)."""
        return json.dumps(asdict(self), sort_keys=True)


def attack(model, images: torch.Tensor, labels: torch.Tensor, method: str, norm: str, eps: float, alpha: float,
           iterations: int, seed: int | Sequence[int], *, target: int | None = None) -> torch.Tensor:
    """The adversarial examples of ``images`` ((B, 3, H, W) RGB floats in [0, 255]) for mmseg
    segmentor ``model`` and ``labels`` ((B, H, W) train ids, 255 = void), same shape and range.

    ``method``: pgd, segpgd, cospgd or bim; ``norm``: linf or l2; ``eps`` and ``alpha`` on the
    0-255 scale. ``seed``: one int draws the batch's random start at once from a generator of
    that seed (as the published code draws from torch's global one), a sequence one seed per
    sample (what the evaluation uses: an image's attack then does not depend on its batch).
    """
    from mmseg.structures import SegDataSample

    settings = AttackSettings(method, norm, float(eps), float(alpha), int(iterations), target)
    height, width = images.shape[-2:]
    shape = (int(height), int(width))
    samples = [SegDataSample(metainfo={"ori_shape": shape, "img_shape": shape, "pad_shape": shape})
               for _ in range(len(images))]
    forward = SegmentorForward(model, samples)
    device = next(model.parameters()).device
    with frozen(model):
        adversarial = perturb(forward, images.to(device, torch.float32), labels.to(device), settings, seed)
    return adversarial.to(images.device)


@contextlib.contextmanager
def frozen(model):
    """The model's parameters without ``requires_grad`` while it is attacked: autograd then
    neither computes their gradients nor keeps what those would need (a PGD step 8-9% faster
    on CPU for SegFormer-B0 and DeepLabV3+ R18 at 128x256, and less GPU memory)."""
    flags = [(parameter, parameter.requires_grad) for parameter in model.parameters()]
    for parameter, _ in flags:
        parameter.requires_grad_(False)
    try:
        yield model
    finally:
        for parameter, flag in flags:
            parameter.requires_grad_(flag)


class SegmentorForward:
    """Raw RGB pixels (B, 3, H, W) -> the model's logits at its samples' original resolution,
    differentiable: mmseg's data preprocessor (BGR in, as its loaders give), test-mode inference,
    padding removed and resized as ``postprocess_result`` does; per-class scores (Mask2Former) as
    their log (segrel.evaluate.evaluation.as_logits)."""

    def __init__(self, model, data_samples):
        from segrel.models.segmentors import output_kind

        check_differentiable(model)
        self.model, self.samples, self.outputs = model, data_samples, output_kind(model.cfg)

    def __call__(self, rgb: torch.Tensor) -> torch.Tensor:
        from segrel.evaluate.evaluation import as_logits

        data = self.model.data_preprocessor({"inputs": list(rgb.flip(1)), "data_samples": self.samples}, False)
        metas = [sample.metainfo for sample in data["data_samples"]]
        seg_logits = self.model.inference(data["inputs"], metas)
        return torch.stack([as_logits(self._to_original(seg_logits[index : index + 1], meta), self.outputs)
                            for index, meta in enumerate(metas)])

    def _to_original(self, logits: torch.Tensor, meta: dict) -> torch.Tensor:
        """(1, C, h, w) -> (C, H, W) at the image's original shape: mmseg's ``postprocess_result``
        (padding cropped, flip undone, bilinear resize) without its arg-max, which the attack
        steps do not read (4% of a demo step: SegFormer-B0, 128x256, CPU)."""
        left, right, top, bottom = meta.get("img_padding_size", meta.get("padding_size", [0, 0, 0, 0]))
        height, width = logits.shape[-2:]
        logits = logits[..., top : height - bottom, left : width - right]
        if meta.get("flip"):
            logits = logits.flip(dims=(3,) if meta["flip_direction"] == "horizontal" else (2,))
        return F.interpolate(logits, size=meta["ori_shape"], mode="bilinear", align_corners=self.model.align_corners)[0]


class BatchAttack:
    """The attack of an evaluation job's batches (``perturb`` of
    :func:`segrel.evaluate.evaluation.forward_passes`): each batch's inputs, as mmseg's test
    pipeline made them, replaced by their adversarial examples against the images' own labels
    (read from the ``fmt`` dataset's label files) and image seeds. ``curves`` holds, until
    taken, each image's (iterations, C, C) confusion matrices of the iterates the attack scored
    on its way; ``images`` (with ``keep_images``) each adversarial example, (H, W, 3) RGB."""

    def __init__(self, model, fmt: str, settings: AttackSettings, unknown_ids: str = "error", keep_images=False):
        self.model, self.fmt, self.settings, self.unknown_ids = model, fmt, settings, unknown_ids
        self.keep_images = keep_images
        self.curves: dict[str, np.ndarray] = {}
        self.images: dict[str, np.ndarray] = {}

    def __call__(self, data: dict, batch) -> list[torch.Tensor]:
        from segrel.core import formats
        from segrel.evaluate.metrics import confusion_matrix

        device = next(self.model.parameters()).device
        labels = np.stack([formats.read_label(self.fmt, sample.label, self.unknown_ids) for sample in batch])
        curves = np.zeros((len(batch), self.settings.iterations, lb.NUM_CLASSES, lb.NUM_CLASSES), np.int64)

        def record(iteration: int, logits: torch.Tensor) -> None:
            for index, prediction in enumerate(logits.argmax(dim=1).cpu().numpy()):
                curves[index, iteration] = confusion_matrix(labels[index], prediction)

        rgb = torch.stack([inputs.flip(0) for inputs in data["inputs"]]).to(device, torch.float32)
        seeds = [start_seed(self.settings.seed, sample.name) for sample in batch]
        with torch.enable_grad(), frozen(self.model):
            adversarial = perturb(SegmentorForward(self.model, data["data_samples"]), rgb,
                                  torch.from_numpy(labels.astype(np.int64)).to(device), self.settings, seeds, record)
        self.curves |= {sample.name: curve for sample, curve in zip(batch, curves)}
        if self.keep_images:
            pixels = adversarial.round().clamp(*PIXEL_RANGE).byte().permute(0, 2, 3, 1).cpu().numpy()
            self.images |= {sample.name: image for sample, image in zip(batch, pixels)}
        return list(adversarial.flip(1))  # BGR, as mmseg's loaders give images


def check_differentiable(model) -> None:
    """An attack needs the model's path from pixels to logits as torch operations: mmseg's
    SegDataPreProcessor and an encoder-decoder's ``inference``; a ValueError naming what differs."""
    from mmseg.models import SegDataPreProcessor

    name = type(model).__name__
    preprocessor = type(getattr(model, "data_preprocessor", None)).__name__
    if not isinstance(getattr(model, "data_preprocessor", None), SegDataPreProcessor):
        raise ValueError(f"cannot attack a {name} whose data preprocessor is {preprocessor}: the attacks "
                         "differentiate through mmseg's SegDataPreProcessor (normalisation, padding); leave "
                         "this model out of the attacked test sets")
    if getattr(model.data_preprocessor, "batch_augments", None):
        raise ValueError(f"cannot attack a {name} whose data preprocessor has batch augmentations")
    if not callable(getattr(model, "inference", None)):
        raise ValueError(f"cannot attack a {name}: it has no test-mode inference(inputs, metas) (an mmseg "
                         "EncoderDecoder's) to differentiate; leave it out of the attacked test sets")


def perturb(forward: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor, labels: torch.Tensor,
            settings: AttackSettings, seed: int | Sequence[int],
            on_iteration: Callable[[int, torch.Tensor], None] | None = None) -> torch.Tensor:
    """The attack of a segmentor's ``forward`` (pixels -> logits) on ``images`` (B, 3, H, W) in
    [0, 255]: :func:`ascend` on :func:`attack_loss` against ``labels`` (towards the target of a
    targeted attack). ``on_iteration(t, logits)`` sees the (detached) logits of iterate t."""
    goal = labels if settings.target is None else torch.where(labels == lb.VOID, labels, settings.target)

    def objective(current: torch.Tensor, iteration: int):
        logits = forward(current)
        return attack_loss(logits, goal, settings, iteration), logits.detach()

    return ascend(objective, images, settings, seed, on_iteration)


def ascend(objective: Callable[[torch.Tensor, int], tuple[torch.Tensor, object]], images: torch.Tensor,
           settings: AttackSettings, seed: int | Sequence[int],
           on_iteration: Callable[[int, object], None] | None = None,
           batch_size_key: str = "stress.attacks.batch_size") -> torch.Tensor:
    """The attack loop on ``images`` (B, 3, H, W) in [0, 255], for any model: random start (not
    BIM), then ``settings.iterations`` steps of ascent on the loss ``objective(iterate, t)``
    gives with its (detached) output, descent for a targeted attack, each step projected onto
    the eps-ball and the pixel range; ``on_iteration(t, output)`` sees the output of iterate t =
    0 .. iterations - 1. ``batch_size_key``: the setting an out-of-memory error names."""
    original = images.detach()
    current = random_start(original, settings, seed) if settings.name in RANDOM_START else original.clone()
    for iteration in range(settings.iterations):
        current.requires_grad_(True)
        try:
            loss, output = objective(current, iteration)
            (gradient,) = torch.autograd.grad(loss, current, allow_unused=True)
        except torch.OutOfMemoryError as error:
            raise RuntimeError(f"a batch of {len(images)} image(s) and its attack's backward pass do not fit in "
                               f"GPU memory: lower the attack's batch size ({batch_size_key})") from error
        if gradient is None:
            raise ValueError("the model's outputs do not depend on its input pixels through differentiable "
                             "operations: this model cannot be attacked")
        if on_iteration is not None:
            on_iteration(iteration, output)
        if settings.target is not None:
            gradient = -gradient
        current = step(current.detach(), gradient, original, settings)
    return current.detach()


def attack_loss(logits: torch.Tensor, labels: torch.Tensor, settings: AttackSettings, iteration: int) -> torch.Tensor:
    """The loss the attack ascends: the per-pixel cross-entropy ((B, C, H, W) logits, (B, H, W)
    labels, void 0), weighted per pixel by :func:`pixel_weights`, averaged over each image's
    pixels and summed over the batch (so that each image's gradient is its own)."""
    ce = F.cross_entropy(logits.float(), labels.long(), ignore_index=lb.VOID, reduction="none")
    weights = pixel_weights(logits, labels, settings.name, iteration, settings.iterations, settings.target is not None)
    return (ce if weights is None else weights * ce).mean(dim=(1, 2)).sum()


def pixel_weights(logits: torch.Tensor, labels: torch.Tensor, method: str, iteration: int, iterations: int,
                  targeted: bool = False) -> torch.Tensor | None:
    """(B, H, W) weights of each pixel's cross-entropy (None: all 1, PGD and BIM).

    SegPGD: 1 - t/2T on pixels predicted correctly, t/2T on the others (swapped for a targeted
    attack); CosPGD: the cosine similarity of the softmax and the one-hot label (1 - it for a
    targeted attack), not differentiated. Void pixels have a zero cross-entropy anyway.

    >>> logits = torch.tensor([[2.0, 0.0], [0.0, 2.0]])[None, :, None, :]  # (1, 2 classes, 1, 2 pixels)
    >>> labels = torch.tensor([[[0, 0]]])  # pixel 0 predicted right, pixel 1 wrong
    >>> pixel_weights(logits, labels, "segpgd", 5, 10)  # t/2T = 0.25
    tensor([[[0.7500, 0.2500]]])
    >>> pixel_weights(logits, labels, "cospgd", 0, 10).round(decimals=4)  # p_y / ||p||
    tensor([[[0.9910, 0.1341]]])
    """
    if method == "segpgd":
        share = iteration / (2 * iterations)
        right = logits.argmax(dim=1) == labels
        if targeted:
            right = ~right
        return torch.where(right, 1.0 - share, share).to(logits.dtype)
    if method == "cospgd":
        one_hot = F.one_hot(labels.long().clamp(0, logits.shape[1] - 1), logits.shape[1]).permute(0, 3, 1, 2)
        similarity = F.cosine_similarity(torch.softmax(logits.float(), dim=1), one_hot.float(), dim=1).detach()
        return 1.0 - similarity if targeted else similarity
    return None


def random_start(images: torch.Tensor, settings: AttackSettings, seed: int | Sequence[int]) -> torch.Tensor:
    """``images`` plus noise U(-eps, eps) (l_inf), or U(-1, 1) scaled to l_2 norm eps (l_2), clipped
    to the pixel range; drawn on the CPU (the same on every device), as the published code draws."""
    low, high = (-settings.eps, settings.eps) if settings.norm == "linf" else (-1.0, 1.0)

    def draw(shape, sample_seed):
        return torch.empty(shape).uniform_(low, high, generator=torch.Generator().manual_seed(int(sample_seed)))

    if isinstance(seed, int | np.integer):
        noise = draw(images.shape, seed)
    elif len(seed) == len(images):
        noise = torch.stack([draw(images.shape[1:], sample_seed) for sample_seed in seed])
    else:
        raise ValueError(f"{len(seed)} seeds for {len(images)} images")
    noise = noise.to(images.device)
    if settings.norm == "l2":
        noise = settings.eps * _unit(noise)
    return (images + noise).clamp(*PIXEL_RANGE)


def step(current: torch.Tensor, gradient: torch.Tensor, original: torch.Tensor, settings: AttackSettings
         ) -> torch.Tensor:
    """One ascent step along ``gradient`` (its sign for l_inf, its direction for l_2), projected
    onto the eps-ball around ``original`` and the pixel range."""
    if settings.norm == "linf":
        moved = current + settings.alpha * gradient.sign()
        delta = (moved - original).clamp(-settings.eps, settings.eps)
    else:
        moved = current + settings.alpha * _unit(gradient)
        delta = _project_l2(moved - original, settings.eps)
    return (original + delta).clamp(*PIXEL_RANGE)


def _norms(tensor: torch.Tensor) -> torch.Tensor:
    """Each sample's l_2 norm, (B, 1, 1, 1), at least 1e-12."""
    return torch.linalg.vector_norm(tensor, dim=(1, 2, 3), keepdim=True).clamp_min(1e-12)


def _unit(tensor: torch.Tensor) -> torch.Tensor:
    return tensor / _norms(tensor)


def _project_l2(delta: torch.Tensor, eps: float) -> torch.Tensor:
    """``delta`` scaled onto the l_2 ball of radius eps where it lies outside."""
    return delta / torch.clamp(_norms(delta) / eps, min=1.0)


def start_seed(seed: int, name: str) -> int:
    """The seed of one image's random start: from the attack's seed and the image's name, so that
    it does not depend on the image's batch or shard."""
    from segrel.core.seeds import seed_sequence

    return int(seed_sequence(seed, name).generate_state(1)[0])


def rem(miou_by_attack) -> float:
    """ReM (SemSegBench's reliability measure): the worst mIoU over the attacks.

    >>> rem({"pgd-linf": 0.21, "cospgd-linf": 0.05, "segpgd-l2": 0.12})
    0.05
    """
    from segrel.stress.aggregates import worst_case

    return worst_case(miou_by_attack, "rem")
