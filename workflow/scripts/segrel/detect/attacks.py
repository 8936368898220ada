"""White-box attacks on mmdet detectors (DetecBench): PGD and BIM under l_inf and l_2 budgets on
the detector's training loss, and ReM over them.

The perturbation lives in raw pixel space (0-255, the images as the test pipeline resized them)
and the detector's own data preprocessor (BGR -> RGB, normalisation, padding) is inside the
differentiated graph, so the gradient is the one of the input the model really sees. The loss is
mmdet's training loss of the batch's ground-truth boxes (every ``loss*`` term summed by
``parse_losses``: classification, box regression, and the RPN's for two-stage detectors), with
the detector in eval mode (BN statistics as deployed). The steps, projections and random start
are the segmentation attacks' (:func:`segrel.stress.attacks.ascend`).

DetecBench's published code (shashankskagnihotri/measuing_reliability_genelization,
``object_detection/src/detecbench/attacks/pgd.py``) un-normalises the preprocessed batch, puts
the 0-255 tensor back in ``data_batch_prepro["inputs"]`` and calls ``model(..., mode="loss")``,
which does not run the data preprocessor: its gradient is taken on the un-normalised image fed
to the network as if normalised (the detector then predicts on the normalised adversarial
image). ``raw_input_loss: true`` reproduces that; the default follows the paper's threat model.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import torch

from segrel.stress.attacks import AttackSettings, ascend, frozen, start_seed

#: the attacks DetecBench runs on detectors (no per-pixel weighting: SegPGD and CosPGD are
#: segmentation losses)
DETECTION_ATTACKS = ("bim", "pgd")


@dataclass(frozen=True)
class DetectionAttack:
    """One threat model on a detector (a detection test set's ``attack``)."""

    name: str
    norm: str
    eps: float
    alpha: float
    iterations: int
    images: int | None = None  # attack only the first this many images of the test set
    seed: int = 0  # of the random starts (each image draws its own)
    raw_input_loss: bool = False  # DetecBench's code: the loss of the un-normalised input (see above)
    curve: bool = False  # also detect on each iteration's image (DetecBench's mAP per iteration)

    def __post_init__(self):
        if self.name not in DETECTION_ATTACKS:
            raise ValueError(f"unknown detection attack {self.name!r}; known: {', '.join(DETECTION_ATTACKS)}")
        self.steps()  # the shared checks of norm, eps, alpha and iterations

    def steps(self) -> AttackSettings:
        """The settings :func:`segrel.stress.attacks.ascend` steps by."""
        return AttackSettings(self.name, self.norm, float(self.eps), float(self.alpha), int(self.iterations),
                              seed=self.seed)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


class DetectorBatchAttack:
    """The attack of a detect job's batches: each batch's inputs, as the detector's test pipeline
    made them (BGR), replaced by their adversarial examples against the images' own boxes."""

    def __init__(self, model, settings: DetectionAttack):
        check_attackable(model)
        self.model, self.settings = model, settings

    def __call__(self, data: dict, batch, on_iteration=None) -> list[torch.Tensor]:
        """The adversarial inputs of ``batch``; ``on_iteration(t, data, batch)`` sees the batch with
        iterate t's inputs (t = 0: the start) before each step."""
        shapes = {tuple(inputs.shape) for inputs in data["inputs"]}
        if len(shapes) > 1:  # mmdet pads a batch; an attack steps each image's own pixels
            return [adversarial for index in range(len(batch)) for adversarial in
                    self({"inputs": data["inputs"][index : index + 1],
                          "data_samples": data["data_samples"][index : index + 1]}, batch[index : index + 1],
                         on_iteration)]
        device = next(self.model.parameters()).device
        rgb = torch.stack([inputs.flip(0) for inputs in data["inputs"]]).to(device, torch.float32)
        seeds = [start_seed(self.settings.seed, sample.name) for sample in batch]
        # the samplers of two-stage detectors draw proposals at random: seeded by the batch's first image
        torch.manual_seed(seeds[0])
        objective = DetectorLoss(self.model, data["data_samples"], self.settings.raw_input_loss)

        def seen(iteration, iterate):
            on_iteration(iteration, {**data, "inputs": list(iterate.flip(1))}, batch)

        with torch.enable_grad(), frozen(self.model):
            adversarial = ascend(objective, rgb, self.settings.steps(), seeds, on_iteration=on_iteration and seen,
                                 batch_size_key="detection.batch_size")
        return list(adversarial.flip(1))  # BGR, as the loaders give images


class DetectorLoss:
    """Raw RGB pixels (B, 3, H, W) -> mmdet's summed training loss of the samples' boxes. mmdet
    averages a batch's losses over all its positives: a factor common to the batch, which neither
    the sign step nor the unit l_2 step sees, so each image's step is its own."""

    def __init__(self, model, data_samples, raw_input: bool = False):
        self.model, self.samples, self.raw_input = model, data_samples, raw_input

    def __call__(self, rgb: torch.Tensor, iteration: int):
        data = self.model.data_preprocessor({"inputs": list(rgb.flip(1)), "data_samples": self.samples}, False)
        inputs = data["inputs"]
        if self.raw_input:  # DetecBench's code: the un-normalised (padded) image
            mean, std = self.model.data_preprocessor.mean, self.model.data_preprocessor.std
            inputs = inputs * std + mean
        losses = self.model.loss(inputs, data["data_samples"])
        loss, _ = self.model.parse_losses(losses)
        return loss, rgb.detach()  # the iterate, for an attack's curve


def check_attackable(model) -> None:
    """An attack needs mmdet's DetDataPreprocessor (normalisation, padding) in the graph."""
    from mmdet.models.data_preprocessors import DetDataPreprocessor

    preprocessor = getattr(model, "data_preprocessor", None)
    if not isinstance(preprocessor, DetDataPreprocessor):
        raise ValueError(f"cannot attack a {type(model).__name__} whose data preprocessor is "
                         f"{type(preprocessor).__name__}: the attacks differentiate through mmdet's "
                         "DetDataPreprocessor")
    if preprocessor.batch_augments:
        raise ValueError(f"cannot attack a {type(model).__name__} whose data preprocessor has batch augmentations")
