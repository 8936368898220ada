"""Evaluate one model on one shard of one test set: one forward pass per image, every metric.

For each batch the model runs once (mmseg's inference API, batched); the logits are turned
into probabilities once, and every metric is fed from that single pass through the streaming
accumulators of :mod:`segrel.evaluate.metrics`:

- segmentation sets (Cityscapes, ACDC, IDD): the confusion matrix (mIoU); ECE / AdaECE / KS /
  PRR on ``calibration_pixels`` seeded random non-void pixels per image (RELIS: 20,000); a
  RELIS-compatible PRR on the same number of pixels drawn with void included (void counts as
  an error there); the image-level confidence (mean MSP over the sampled pixels) for
  image-level OOD detection; on IDD, local-OOD detection on the classes Cityscapes lacks;
- anomaly sets (SMIYC): pixel-level anomaly detection (anomaly = positive, void excluded);
- everywhere OOD regions exist: their mean entropy;
- RELIS' evaluation ablations, when :class:`Ablations` asks: the calibration metrics on other
  numbers of pixels per image (Fig. 10) and PRR / image-level OOD detection with the negative
  entropy as the confidence instead of the MSP (Fig. 11).

An attacked test set (``attack``: :class:`segrel.stress.attacks.AttackSettings`) is the same
evaluation of each image's adversarial example for the model, made between mmseg's test
pipeline and the scoring pass; the attack's own forward passes also give the mIoU after each
of its iterations (the ablations table's ``attack_iterations`` rows).

Four anomaly scores are tracked: ``msp`` (as log(1 - MSP), computed from the logits so that
near-certain pixels stay distinct; monotone in -MSP, so AUROC/AP/FPR are those of -MSP),
``entropy``, ``max_logit`` (-max logit) and ``rba`` (RbA, Nayal et al. 2023: -sum over the
classes of tanh of the model's own outputs, so the summed mask-classification scores of a
Mask2Former, as RbA's code computes it; on a per-pixel model the same formula on its logits).

Models whose decode head returns per-class scores instead of logits (Mask2Former, MaskFormer:
:func:`segrel.models.segmentors.output_kind`) are scored on the log of those scores
(:func:`as_logits`): their MSP and entropy are those of the per-pixel normalised scores, and
their "max logit" is the log of the largest unnormalised score.
"""

from __future__ import annotations

import contextlib
import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from segrel.core import formats
from segrel.core import labels as lb
from segrel.core.io import save_npz
from segrel.evaluate.metrics import CalibrationAccumulator, DetectionAccumulator, confusion_matrix, miou
from segrel.evaluate.metrics_table import COLUMNS, SCORES

# Bounded ranges for the detection histograms of each of SCORES (values outside fall into the end bins).
SCORE_RANGES = {"msp": (-28.0, 0.0), "entropy": (0.0, float(np.log(lb.NUM_CLASSES))), "max_logit": (-100.0, 100.0),
                "rba": (-float(lb.NUM_CLASSES), float(lb.NUM_CLASSES))}
SCORE_BINS = 20_000


OUTPUT_KINDS = ("logits", "probabilities")

#: The measures of the pixel-count ablation (RELIS Fig. 10); the confidence ablation (Fig. 11)
#: has PRR (:meth:`EvaluationState.ablation_metrics`) and image_ood_auroc (merge_shard_tables).
PIXEL_ABLATION_MEASURES = ("ece", "adaptive_ece", "ks_error", "prr")
ABLATION_COLUMNS = ("model", "test_set", "ablation", "setting", "measure", "value")


@dataclass(frozen=True)
class Ablations:
    """RELIS' evaluation ablations (config evaluation.ablations), all off by default.

    ``calibration_pixels``: each count also gets its own ECE / AdaECE / KS / PRR, from its own
    seeded draw of that many non-void pixels per image (Fig. 10: stable from 10,000 on).
    ``negative_entropy``: PRR and the image confidence also with the negative entropy as the
    confidence, as 1 - H / log(C) (in [0, 1], the same ranking: Fig. 11)."""

    calibration_pixels: tuple[int, ...] = ()
    negative_entropy: bool = False


def as_logits(seg_logits: torch.Tensor, outputs: str) -> torch.Tensor:
    """A model's (C, ...) ``seg_logits`` as logits: as they are, or, for per-class scores
    (``outputs`` "probabilities"), their log, so that the softmax of the result is the scores
    normalised over the classes (a softmax of the scores themselves would squash 0.6 / 0.4
    into 0.55 / 0.45, and Mask2Former's summed scores into near-certainty). The smallest
    positive float stands in for a zero score.

    >>> scores = torch.tensor([[0.3, 0.0], [0.2, 0.5]])  # (C=2, pixels=2)
    >>> torch.softmax(as_logits(scores, "probabilities"), dim=0).round(decimals=4)
    tensor([[0.6000, 0.0000],
            [0.4000, 1.0000]])
    """
    if outputs not in OUTPUT_KINDS:
        raise ValueError(f"unknown model output kind {outputs!r}; known: {', '.join(OUTPUT_KINDS)}")
    if outputs == "logits":
        return seg_logits
    return seg_logits.float().clamp_min(torch.finfo(torch.float32).tiny).log()


def pixel_scores(logits: torch.Tensor, outputs: str = "logits") -> dict[str, torch.Tensor]:
    """(C, H, W) logits -> prediction, MSP and the four anomaly scores (higher = more anomalous).

    One exp pass: with l* the max logit and s = sum over the other classes of exp(l - l*),
    MSP = 1 / (1 + s), log(1 - MSP) = log(s) - log1p(s) (exact even where MSP rounds to 1,
    unlike log1p(-MSP)), and entropy = log1p(s) - sum(exp(l - l*) (l - l*)) / (1 + s). RbA reads
    the model's own outputs (``outputs``: what they were before :func:`as_logits`).
    """
    logits = logits.float()
    max_logit, prediction = logits.max(dim=0)
    shifted = logits - max_logit[None]
    weights = shifted.exp()
    weights.scatter_(0, prediction[None], 0.0)  # the arg-max term (exactly 1) kept out of s
    others = weights.sum(dim=0)
    log1p_others = torch.log1p(others)
    entropy = log1p_others - (weights * shifted).sum(dim=0) / (1.0 + others)
    return {
        "prediction": prediction,
        "confidence": 1.0 / (1.0 + others),
        "msp": torch.log(others) - log1p_others,
        "entropy": entropy,
        "max_logit": -max_logit,
        "rba": rba_score(logits.exp() if outputs == "probabilities" else logits),
    }


def rba_score(outputs: torch.Tensor) -> torch.Tensor:
    """RbA's anomaly score of (C, ...) class scores: -sum over C of tanh (RbA's
    ``-(semseg.tanh()).sum(0)``, semseg = softmax(class)[:, :-1] x sigmoid(mask) summed over
    the queries): a pixel that no class claims scores near 0, one that one class claims near -1.

    >>> rba_score(torch.tensor([[0.0, 1.0, 20.0], [0.0, 0.0, 0.0]])).round(decimals=4)
    tensor([-0.0000, -0.7616, -1.0000])
    """
    return -torch.tanh(outputs.float()).sum(dim=0)


def _detection_accumulators():
    return {score: DetectionAccumulator(*SCORE_RANGES[score], bins=SCORE_BINS) for score in SCORES}


@dataclass
class EvaluationState:
    """Everything a shard contributes, and the settings that made it (:meth:`settings`): states
    of the shards of one (model, test set) add up, and only if made with the same settings."""

    kind: str  # "segmentation" or "anomaly"
    calibration_pixels: int  # pixels drawn per image for calibration (and again for RELIS' PRR)
    seed: int  # of the per-image pixel draws
    batch_size: int  # images per forward pass: a pass's floating-point result depends on its batch
    outputs: str = "logits"  # what the model's seg_logits are (OUTPUT_KINDS; see as_logits)
    parameters: int = 0  # the model's parameter count (RELIS Fig. 2 sizes its markers by it)
    ablations: Ablations = Ablations()
    attack: str = ""  # the attack's settings (AttackSettings.to_json) on an attacked test set, else ""
    confusion: np.ndarray = field(default_factory=lambda: np.zeros((lb.NUM_CLASSES, lb.NUM_CLASSES), np.int64))
    calibration: CalibrationAccumulator = field(default_factory=CalibrationAccumulator)
    calibration_relis: CalibrationAccumulator = field(default_factory=CalibrationAccumulator)
    detection: dict = field(default_factory=_detection_accumulators)
    ood_entropy: np.ndarray = field(default_factory=lambda: np.zeros(2))  # sum, count
    image_names: list = field(default_factory=list)
    image_confidence: list = field(default_factory=list)
    # per-image confusion matrices: mIoU of any subset of images (sample-size analysis)
    image_confusion: list = field(default_factory=list)
    # the ablations' accumulators ({"pixels_<k>" or "negative_entropy": accumulator}) and the
    # image confidence as the mean normalised negative entropy
    ablation: dict = field(default_factory=dict)
    image_entropy_confidence: list = field(default_factory=list)
    # attacked sets: (iterations, C, C) confusion of the attack's iterates 0 .. iterations - 1
    # (the last iterate, the adversarial example, is ``confusion``)
    attack_confusion: np.ndarray = field(default_factory=lambda: np.zeros((0, lb.NUM_CLASSES, lb.NUM_CLASSES),
                                                                          np.int64))
    # the file the state was loaded from, to name it in errors
    source: str = field(default="an unsaved state", compare=False)

    def __post_init__(self):
        names = [f"pixels_{pixels}" for pixels in self.ablations.calibration_pixels]
        if self.ablations.negative_entropy:
            names.append("negative_entropy")
        self.ablation = {name: CalibrationAccumulator() for name in names}

    def accumulators(self):
        """(name, accumulator) of every histogram in the state."""
        yield "calibration", self.calibration
        yield "calibration_relis", self.calibration_relis
        for score, acc in self.detection.items():
            yield f"detection_{score}", acc
        for name, acc in self.ablation.items():
            yield f"ablation_{name}", acc

    def settings(self) -> dict:
        """What made the state: the test set's kind, the pixel draws, and every histogram's
        binning (the calibration bins; SCORE_RANGES and SCORE_BINS)."""
        settings = {"kind": self.kind, "calibration_pixels": self.calibration_pixels, "seed": self.seed,
                    "batch_size": self.batch_size, "outputs": self.outputs, "parameters": self.parameters,
                    "ablation_pixels": tuple(self.ablations.calibration_pixels),
                    "negative_entropy": self.ablations.negative_entropy, "attack": self.attack}
        for prefix, acc in self.accumulators():
            settings |= {f"{prefix}.{key}": value for key, value in acc.settings().items()}
        return settings

    def save(self, path) -> None:
        arrays = {"kind": np.array(self.kind), "calibration_pixels": np.array(self.calibration_pixels),
                  "seed": np.array(self.seed), "batch_size": np.array(self.batch_size),
                  "outputs": np.array(self.outputs), "parameters": np.array(self.parameters),
                  "confusion": self.confusion, "ood_entropy": self.ood_entropy,
                  "image_names": np.array(self.image_names, dtype=str),
                  "image_confidence": np.array(self.image_confidence, dtype=np.float64),
                  "image_confusion": self.image_confusion_array(),
                  "ablation_pixels": np.array(self.ablations.calibration_pixels, dtype=np.int64),
                  "negative_entropy": np.array(self.ablations.negative_entropy),
                  "image_entropy_confidence": np.array(self.image_entropy_confidence, dtype=np.float64),
                  "attack": np.array(self.attack), "attack_confusion": self.attack_confusion}
        for prefix, acc in self.accumulators():
            for key, value in acc.state_dict().items():
                arrays[f"{prefix}.{key}"] = value
        save_npz(path, arrays)

    @classmethod
    def load(cls, path) -> EvaluationState:
        """The state :meth:`save` wrote, its histograms binned as they were then."""
        with np.load(path) as data:
            settings = {"calibration_pixels", "seed", "batch_size", "outputs", "parameters", "ablation_pixels",
                        "negative_entropy", "attack"}
            if not settings <= set(data.files):
                raise ValueError(f"{path}: a shard state saved without the settings that made it (by an older "
                                 "segrel): re-run its evaluation (snakemake --forcerun evaluate_shard)")
            ablations = Ablations(tuple(data["ablation_pixels"].tolist()), bool(data["negative_entropy"]))
            state = cls(kind=str(data["kind"]), calibration_pixels=int(data["calibration_pixels"]),
                        seed=int(data["seed"]), batch_size=int(data["batch_size"]), outputs=str(data["outputs"]),
                        parameters=int(data["parameters"]), ablations=ablations, attack=str(data["attack"]),
                        source=str(path))
            state.attack_confusion = data["attack_confusion"].copy()
            state.confusion = data["confusion"].copy()
            state.ood_entropy = data["ood_entropy"].copy()
            state.image_names = data["image_names"].tolist()
            state.image_confidence = data["image_confidence"].tolist()
            state.image_confusion = list(data["image_confusion"])
            state.image_entropy_confidence = data["image_entropy_confidence"].tolist()

            def saved(prefix: str) -> dict[str, np.ndarray]:
                return {key[len(prefix) + 1 :]: data[key] for key in data.files if key.startswith(f"{prefix}.")}

            state.calibration = CalibrationAccumulator.from_state_dict(saved("calibration"))
            state.calibration_relis = CalibrationAccumulator.from_state_dict(saved("calibration_relis"))
            state.detection = {score: DetectionAccumulator.from_state_dict(saved(f"detection_{score}"))
                               for score in SCORES}
            state.ablation = {name: CalibrationAccumulator.from_state_dict(saved(f"ablation_{name}"))
                              for name in state.ablation}
        return state

    def merge(self, other: EvaluationState) -> EvaluationState:
        """Add ``other`` (another shard of the same model and test set) to this state."""
        settings, other_settings = self.settings(), other.settings()
        different = [key for key in dict.fromkeys([*settings, *other_settings])
                     if settings.get(key) != other_settings.get(key)]
        if different:
            changes = "; ".join(f"{key} {other_settings.get(key)} vs {settings.get(key)}" for key in different)
            raise ValueError(f"cannot merge {other.source} into {self.source}: they were made with different "
                             f"settings ({changes}); evaluate both with the same config")
        self.confusion += other.confusion
        for (_, acc), (_, theirs) in zip(self.accumulators(), other.accumulators()):
            acc.merge(theirs)
        self.ood_entropy += other.ood_entropy
        self.image_names += other.image_names
        self.image_confidence += other.image_confidence
        self.image_confusion += other.image_confusion
        self.image_entropy_confidence += other.image_entropy_confidence
        self.add_attack_confusion(other.attack_confusion)
        return self

    def add_attack_confusion(self, confusion: np.ndarray) -> None:
        """Add (iterations, C, C) confusion matrices of attack iterates (none yet, e.g. a shard
        without images: they are the sum)."""
        if not len(self.attack_confusion):
            self.attack_confusion = confusion.copy()
        elif len(confusion):
            self.attack_confusion = self.attack_confusion + confusion

    def image_confusion_array(self) -> np.ndarray:
        """(images, C, C) int32: one confusion matrix per image (empty for anomaly sets)."""
        shape = (len(self.image_confusion), lb.NUM_CLASSES, lb.NUM_CLASSES)
        return np.array(self.image_confusion, dtype=np.int32).reshape(shape)

    def metrics(self, excluded_classes: Sequence[int] = ()) -> dict[tuple[str, str], float]:
        """Every metric this state supports, as {(measure, score): value} in the table's row order
        (``score`` is "" except for the OOD detection measures; see segrel.evaluate.metrics_table);
        the mIoU leaves out the ``excluded_classes`` (train ids; see segrel.evaluate.metrics.miou)."""
        out: dict[tuple[str, str], float] = {("images", ""): float(len(self.image_names)),
                                             ("parameters", ""): float(self.parameters)}
        if self.kind == "segmentation":
            out["miou", ""] = miou(self.confusion, excluded_classes)
            out |= {(measure, ""): value for measure, value in self.calibration.compute().items()
                    if measure != "prr_relis"}
            out["prr_relis", ""] = self.calibration_relis.prr(relis_compat=True)
            # fsum: exactly rounded, so the mean does not depend on the order shards were merged in
            out["image_confidence", ""] = (math.fsum(self.image_confidence) / len(self.image_confidence)
                                           if self.image_confidence else float("nan"))
        # OOD pixels: anomalies (anomaly sets) or local OOD (IDD classes Cityscapes lacks); one
        # measure for both, so a proxy set's OOD metrics line up with the real set's
        for score, acc in self.detection.items():
            if acc.positives.sum() == 0:  # no OOD pixels in this test set (e.g. Cityscapes)
                continue
            out |= {(f"ood_{measure}", score): value for measure, value in acc.compute().items()}
        if self.ood_entropy[1] > 0:
            out["ood_mean_entropy", ""] = float(self.ood_entropy[0] / self.ood_entropy[1])
        return out

    def ablation_metrics(self, excluded_classes: Sequence[int] = ()) -> list[tuple[str, str, str, float]]:
        """(ablation, setting, measure, value) of the :class:`Ablations` asked for: the
        calibration measures per pixel count (the main count too, unless it is ablated itself)
        and PRR with each confidence (image_ood_auroc compares two test sets: merge_shard_tables);
        on an attacked set, the mIoU after each attack iteration (setting "0": the start)."""
        if self.kind != "segmentation":
            return []
        rows = []
        if len(self.attack_confusion):
            confusions = [*self.attack_confusion, self.confusion]
            rows += [("attack_iterations", str(iteration), "miou", miou(confusion, excluded_classes))
                     for iteration, confusion in enumerate(confusions)]
        if self.ablations.calibration_pixels:
            counts = {self.calibration_pixels: self.calibration}
            counts |= {pixels: self.ablation[f"pixels_{pixels}"] for pixels in self.ablations.calibration_pixels}
            for pixels, acc in sorted(counts.items()):
                values = acc.compute()
                rows += [("calibration_pixels", str(pixels), measure, values[measure])
                         for measure in PIXEL_ABLATION_MEASURES]
        if self.ablations.negative_entropy:
            rows += [("confidence", "msp", "prr", self.calibration.prr()),
                     ("confidence", "negative_entropy", "prr", self.ablation["negative_entropy"].prr())]
        return rows


def _sample(rng: np.random.Generator, candidates: np.ndarray, k: int) -> np.ndarray:
    return candidates if len(candidates) <= k else rng.choice(candidates, size=k, replace=False)


def _pixel_rng(seed: int, name: str) -> np.random.Generator:
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def draw_calibration_pixels(seed: int, name: str, labelled: np.ndarray, pixels: int) -> np.ndarray:
    """The ``pixels`` of an image's ``labelled`` pixel indices that calibration metrics read:
    the first draw of the image's seeded generator, so a calibration fit on an image reads the
    pixels its evaluation reads (same seed and count)."""
    return _sample(_pixel_rng(seed, name), labelled, pixels)


def evaluate_shard(model, fmt: str, samples: list[formats.Sample], *, batch_size: int, calibration_pixels: int,
                   seed: int, ablations: Ablations = Ablations(), unknown_ids: str = "error",
                   progress=None, attack=None) -> EvaluationState:
    """Run ``model`` once over ``samples`` (or over their adversarial examples: ``attack``, see
    :func:`evaluate_transformed_shard`) and accumulate every metric (scored as its config's
    decode head says its outputs are: :func:`segrel.models.segmentors.output_kind`) and the
    ``ablations``; label ids the format does not have are refused or void (``unknown_ids``,
    :func:`segrel.core.formats.to_labels`)."""
    return evaluate_transformed_shard(model, fmt, samples, {"": None}, batch_size=batch_size,
                                      calibration_pixels=calibration_pixels, seed=seed, ablations=ablations,
                                      unknown_ids=unknown_ids, progress=progress, attack=attack)[""]


def evaluate_transformed_shard(model, fmt: str, samples: list[formats.Sample], transforms: dict, *, batch_size: int,
                               calibration_pixels: int, seed: int, ablations: Ablations = Ablations(),
                               unknown_ids: str = "error", progress=None, features=None, attack=None) -> dict:
    """{name: state} of :func:`evaluate_shard` with each of ``transforms`` applied to the logits
    of the same forward pass: one pass per image however many transforms. A transform is None
    (the logits as they are) or ``f(logits, sample, feature) -> logits`` that keeps the arg-max
    (a calibrator: :func:`segrel.calibrate.calibrators.as_transforms`); ``features`` makes the
    context manager that collects the images' features they read (see :func:`forward_passes`).
    ``attack`` (:class:`segrel.stress.attacks.AttackSettings`): each image is scored as its
    adversarial example for the model."""
    from segrel.models.segmentors import output_kind

    attacker = None
    if attack is not None:
        from segrel.stress.attacks import BatchAttack

        attacker = BatchAttack(model, fmt, attack, unknown_ids)
    states = {key: EvaluationState(kind=formats.dataset_format(fmt).kind, calibration_pixels=calibration_pixels,
                                   seed=seed, batch_size=batch_size, outputs=output_kind(model.cfg),
                                   parameters=sum(parameter.numel() for parameter in model.parameters()),
                                   ablations=ablations, attack=attack.to_json() if attack else "")
              for key in transforms}
    first = next(iter(states.values()))
    for sample, logits, prediction, feature in forward_passes(model, samples, batch_size=batch_size, features=features,
                                                              progress=progress, perturb=attacker):
        image = _image_pixels(first, fmt, sample, logits, prediction, unknown_ids)  # once for every transform
        curve = attacker.curves.pop(sample.name) if attacker else None
        for key, transform in transforms.items():
            _add(states[key], image, logits if transform is None else transform(logits, sample, feature))
            if curve is not None:
                states[key].add_attack_confusion(curve)
    return states


def evaluate_job(model, model_name: str, test_sets: dict, shard: int, shards: int, settings: dict,
                 transforms=None, features=None):
    """Yield (test set, {name: state}) for one job's shard of each of ``test_sets`` (the rules'
    params: {name: format, root, split, subset, unknown_ids}), evaluated with the rules'
    evaluation ``settings``; ``transforms(test set)`` gives that set's logit transforms
    (default: the logits as they are, state name ""); an error names the model and test set."""
    from segrel.core.logs import log, progress
    from segrel.core.sharding import shard_samples

    asked = settings["ablations"]
    ablations = Ablations(tuple(asked["calibration_pixels"]), asked["negative_entropy"])
    ablated = asked.get("test_sets")  # None: every test set
    for name, test_set in test_sets.items():
        attack = _attack_settings(test_set.get("attack"))
        samples = formats.list_samples(test_set["format"], test_set["root"], test_set["split"], test_set["subset"])
        samples = samples[: attack.images] if attack else samples
        selected = shard_samples(samples, shard, shards)
        chosen = transforms(name) if transforms else {"": None}
        attacked = f", attacked by {attack.name} ({attack.norm}, eps {attack.eps:g})" if attack else ""
        log(f"{model_name} on {name}: {len(selected)} of {len(samples)} images{attacked}, {len(chosen)} state(s)")
        batch_size = attack.batch_size if attack and attack.batch_size else settings["batch_size"]
        try:
            yield name, evaluate_transformed_shard(
                model, test_set["format"], selected, chosen, batch_size=batch_size,
                calibration_pixels=settings["calibration_pixels"], seed=settings["seed"],
                ablations=ablations if ablated is None or name in ablated else Ablations(),
                unknown_ids=test_set["unknown_ids"], progress=progress, features=features, attack=attack)
        except (ValueError, RuntimeError) as error:  # the data, the model, GPU memory: name the model and test set
            raise type(error)(f"{model_name} on {name}: {error}") from None


def _attack_settings(spec: dict | None):
    """The :class:`segrel.stress.attacks.AttackSettings` of a test set's ``attack`` (None: none)."""
    if not spec:
        return None
    from segrel.stress.attacks import AttackSettings

    return AttackSettings(**spec)


def forward_passes(model, samples, *, batch_size: int, features=None, images=None, progress=None, perturb=None):
    """Yield (sample, logits (C, H, W), prediction (H, W), feature) for each of ``samples``, from
    mmseg's batched inference (``images``: a function of a sample giving the BGR array to run
    on instead of its file; ``perturb(data, batch)``: the inputs mmseg's test pipeline made of
    the batch, replaced before the pass, :class:`segrel.stress.attacks.BatchAttack`). The
    logits are scored as the model's decode head outputs them (:func:`as_logits`); the
    prediction is mmseg's own arg-max (3.8 ms of a 2-core 256x512 image, 2% of SegFormer-B0's
    forward, not taken again). ``features``: a function giving a
    context manager that yields what collects each batch's features during its pass
    (``clear()``, ``features()``: :func:`segrel.calibrate.clustering.backbone_features`);
    ``feature`` is then the image's row, else None."""
    from segrel.models.segmentors import output_kind

    outputs = output_kind(model.cfg)
    batches = [samples[i : i + batch_size] for i in range(0, len(samples), batch_size)]
    with torch.no_grad(), features() if features else contextlib.nullcontext() as collected:
        for batch in progress(batches) if progress else batches:
            if collected:
                collected.clear()
            results = infer(model, [images(s) if images else str(s.image) for s in batch],
                            (lambda data, batch=batch: perturb(data, batch)) if perturb else None)
            batch_features = collected.features() if collected else None
            for index, (sample, result) in enumerate(zip(batch, results)):
                feature = batch_features[index] if collected else None
                yield sample, as_logits(result.seg_logits.data, outputs), result.pred_sem_seg.data[0], feature


def infer(model, images: list, perturb=None):
    """mmseg's batched inference of image files (or BGR arrays); ``perturb(data)`` gives the
    inputs to run on instead of those mmseg's test pipeline made (``data``). An image it cannot
    read is an error naming the files (mmcv returns None for a damaged file, and the pipeline
    then fails on an anonymous None)."""
    from mmseg.apis import inference_model
    from mmseg.apis.utils import _preprare_data

    loader = model.cfg.test_pipeline[0]["type"]
    try:
        if perturb is None:
            return inference_model(model, images)
        data, _ = _preprare_data(images, model)  # inference_model's own pipeline (mmseg 1.2.2)
        data["inputs"] = perturb(data)
        with torch.no_grad():
            return model.test_step(data)
    except Exception as error:
        unreadable = [image for image in images if isinstance(image, str) and _unreadable(image)]
        if unreadable:
            raise ValueError(f"{', '.join(unreadable)}: cannot be read as an image; restore it from the "
                             "dataset's archive or re-run the rule that wrote it") from error
        raise
    finally:  # mmseg switches the model's loader to LoadImageFromNDArray for good once given arrays
        model.cfg.test_pipeline[0]["type"] = loader


def _unreadable(image: str) -> bool:
    try:
        formats.read_image(image)
    except (ValueError, OSError):
        return True
    return False


def predict_image(model, image, perturb=None) -> tuple[np.ndarray, np.ndarray]:
    """(prediction, MSP) maps of one image file, scored as :func:`evaluate_shard` scores them
    (for the qualitative figures); ``perturb``: as :func:`infer`'s (an attack)."""
    from segrel.models.segmentors import output_kind

    with torch.no_grad():
        (result,) = infer(model, [str(image)], perturb)
    logits = as_logits(result.seg_logits.data, output_kind(model.cfg))
    confidence = max_softmax(logits.flatten(1)).reshape(logits.shape[1:])
    return result.pred_sem_seg.data[0].cpu().numpy(), confidence.cpu().numpy()


def max_softmax(pixel_logits: torch.Tensor) -> torch.Tensor:
    """(C, N) logits -> MSP per pixel, 1 / sum exp(l - max l): calibration needs nothing else.
    Reduced over C along rows of N pixels, it takes 3-4 ms on 40,000 pixels, a softmax over
    (N, C) 5-12 ms (C = 19 is too short a row to vectorise).

    >>> max_softmax(torch.tensor([[0.0, 2.0], [0.0, 0.0]]))
    tensor([0.5000, 0.8808])
    """
    pixel_logits = pixel_logits.float()
    return 1.0 / (pixel_logits - pixel_logits.amax(dim=0)).exp_().sum(dim=0)


@dataclass
class _ImagePixels:
    """What one image's metrics read besides the logits, the same for every transform of its
    logits (one label read, one confusion matrix, one set of pixel draws per image)."""

    name: str
    label: np.ndarray  # train ids (or anomaly labels), flat
    prediction: np.ndarray | None = None  # flat arg-max (segmentation sets)
    confusion: np.ndarray | None = None
    labelled: np.ndarray | None = None  # indices of the non-void pixels
    picked: np.ndarray | None = None  # calibration's draw among them
    any_pixel: np.ndarray | None = None  # RELIS' PRR draw among all pixels
    scored: np.ndarray | None = None  # indices scored for OOD detection (None: no OOD pixel)
    ood: np.ndarray | None = None  # whether each scored pixel is OOD


def _image_pixels(state: EvaluationState, fmt: str, sample, logits: torch.Tensor, prediction: torch.Tensor,
                  unknown_ids: str = "error") -> _ImagePixels:
    """One image's labels, confusion and pixel draws, as ``state``'s settings say. Non-finite
    logits are refused: they would turn into arbitrary predictions and histogram bins."""
    if not torch.isfinite(logits).all():
        raise ValueError(f"{sample.image}: the model's outputs are not finite (NaN or inf); its checkpoint or "
                         "config is broken (e.g. weights of NaN)")
    stored_ids = formats.read_ids(sample.label).ravel()
    label = formats.to_labels(fmt, stored_ids, sample.label, unknown_ids)
    if label.size != logits[0].numel():
        raise ValueError(f"{sample.image}: prediction has {logits[0].numel()} pixels, label {label.size}")
    image = _ImagePixels(sample.name, label)
    if state.kind == "anomaly":
        scored, ood = label != lb.ANOMALY_VOID, label == lb.ANOMALY_YES
    else:
        rng = _pixel_rng(state.seed, sample.name)
        image.prediction = prediction.reshape(-1).cpu().numpy()
        valid = label != lb.VOID
        image.confusion = confusion_matrix(label, image.prediction)
        image.labelled = np.flatnonzero(valid)
        image.picked = _sample(rng, image.labelled, state.calibration_pixels)
        # RELIS' PRR draws from every pixel and counts void as an error
        image.any_pixel = _sample(rng, np.arange(label.size), state.calibration_pixels)
        if not formats.dataset_format(fmt).local_ood_ids:
            return image
        ood = formats.local_ood_mask(fmt, stored_ids)
        scored = valid | ood
    if ood.any():
        image.scored = np.flatnonzero(scored)
        image.ood = ood[image.scored]
    return image


def _accumulate(state: EvaluationState, fmt: str, sample, logits: torch.Tensor, prediction: torch.Tensor,
                unknown_ids: str = "error") -> None:
    """Add one image: ``logits`` (C, H, W) and its arg-max ``prediction`` (H, W), drawing pixels
    as the state's settings say."""
    _add(state, _image_pixels(state, fmt, sample, logits, prediction, unknown_ids), logits)


def _add(state: EvaluationState, image: _ImagePixels, logits: torch.Tensor) -> None:
    """Add one image's ``logits`` (C, H, W) to ``state`` at the pixels ``image`` says."""
    pixels = logits.flatten(1)
    state.image_names.append(image.name)

    def logits_at(index: np.ndarray) -> torch.Tensor:
        # (C, N): scores only where a metric reads them (calibration needs 2 x 20,000 pixels of
        # a 2-megapixel image, so a full-image softmax would cost more than the metrics), as
        # rows of N pixels, the layout the reductions over C vectorise (see max_softmax)
        return pixels.index_select(1, torch.from_numpy(index).to(pixels.device))

    if state.kind == "segmentation":
        label, prediction, picked, any_pixel = image.label, image.prediction, image.picked, image.any_pixel
        state.confusion += image.confusion
        state.image_confusion.append(image.confusion.astype(np.int32))
        confidence = max_softmax(logits_at(np.concatenate([picked, any_pixel]))).cpu().numpy()
        state.calibration.update(confidence[: len(picked)], prediction[picked] == label[picked])
        state.image_confidence.append(float(confidence[: len(picked)].mean()) if len(picked) else float("nan"))
        state.calibration_relis.update(confidence[len(picked) :],
                                       (prediction[any_pixel] == label[any_pixel]) & (label[any_pixel] != lb.VOID))
        _accumulate_ablations(state, image.name, logits_at, image.labelled, picked, prediction, label)
    if image.scored is not None:
        scored = pixel_scores(logits_at(image.scored), state.outputs)
        scores = {name: value.cpu().numpy() for name, value in scored.items()}
        for name, acc in state.detection.items():
            acc.update(scores[name], image.ood)
        state.ood_entropy += (scores["entropy"][image.ood].sum(), image.ood.sum())


def _accumulate_ablations(state: EvaluationState, name: str, logits_at, labelled: np.ndarray, picked: np.ndarray,
                          prediction: np.ndarray, label: np.ndarray) -> None:
    """Add one image to the ablations (:class:`Ablations`): ``logits_at`` gathers the (C, N) logits
    of pixel indices, ``labelled`` are the non-void pixels' indices, ``picked`` those calibration drew."""
    for pixels in state.ablations.calibration_pixels:  # each count its own draw, as separate runs would
        rng = np.random.default_rng([state.seed, zlib.crc32(name.encode()), pixels])
        drawn = _sample(rng, labelled, pixels)
        state.ablation[f"pixels_{pixels}"].update(max_softmax(logits_at(drawn)).cpu().numpy(),
                                                  prediction[drawn] == label[drawn])
    if state.ablations.negative_entropy:
        logits = logits_at(picked)
        normalised = pixel_scores(logits)["entropy"] / math.log(logits.shape[0])
        confidence = (1.0 - normalised).clamp(0.0, 1.0).cpu().numpy()
        state.ablation["negative_entropy"].update(confidence, prediction[picked] == label[picked])
        state.image_entropy_confidence.append(float(confidence.mean()) if len(picked) else float("nan"))


def load_merged(paths) -> EvaluationState:
    """The state of a whole (model, test set) from its shard files (images in shard order);
    a ValueError naming two of them if they were made with different settings."""
    state = EvaluationState.load(paths[0])
    for path in paths[1:]:
        state.merge(EvaluationState.load(path))
    return state


def merge_shard_tables(shards: dict[tuple[str, str], list[str]], in_domain: str | None = None,
                       excluded_classes: dict[str, Sequence[str]] | None = None):
    """{(model, test set): [shard files]} -> (tidy metrics table, per-image confidence table,
    ablations table).

    The metrics table has one row per (model, test set, measure, score), columns
    :data:`segrel.evaluate.metrics_table.COLUMNS`; ``excluded_classes`` ({test set: class
    names}) are left out of that test set's mIoU. The ablations table has the rows of
    :meth:`EvaluationState.ablation_metrics`, columns :data:`ABLATION_COLUMNS`.

    With ``in_domain`` (a test set name), each other segmentation test set also gets
    ``image_ood_auroc``: how well the image confidence (mean MSP) tells the in-domain images
    (positives) from that set's images (RELIS' image-level OOD detection); with the confidence
    ablation, also with the mean negative entropy as the image confidence.
    """
    import pandas as pd

    rows, images, ablations, kinds = [], [], [], {}
    for (model, test_set), paths in sorted(shards.items()):
        state = load_merged(paths)
        kinds[test_set] = state.kind
        excluded = lb.train_ids((excluded_classes or {}).get(test_set, ()))
        metrics = state.metrics(excluded)
        rows += [{"model": model, "test_set": test_set, "measure": measure, "score": score, "value": value}
                 for (measure, score), value in metrics.items()]
        ablations += [(model, test_set, *row) for row in state.ablation_metrics(excluded)]
        entropy = state.image_entropy_confidence or [np.nan] * len(state.image_names)
        images += [{"model": model, "test_set": test_set, "image": name, "confidence": conf,
                    "negative_entropy_confidence": neg_entropy}
                   for name, conf, neg_entropy in zip(state.image_names, state.image_confidence, entropy)]
    images = pd.DataFrame(images, columns=["model", "test_set", "image", "confidence", "negative_entropy_confidence"])
    if in_domain is not None:
        aurocs = {"msp": _image_ood_aurocs(images, "confidence", in_domain, kinds),
                  "negative_entropy": _image_ood_aurocs(images.dropna(subset=["negative_entropy_confidence"]),
                                                        "negative_entropy_confidence", in_domain, kinds)}
        rows += [{"model": model, "test_set": test_set, "measure": "image_ood_auroc", "score": "", "value": value}
                 for (model, test_set), value in aurocs["msp"].items()]
        ablations += [(*pair, "confidence", confidence, "image_ood_auroc", aurocs[confidence][pair])
                      for pair in aurocs["negative_entropy"] for confidence in aurocs]
    return (pd.DataFrame(rows, columns=list(COLUMNS)), images,
            pd.DataFrame(ablations, columns=list(ABLATION_COLUMNS)))


def _image_ood_aurocs(images, column: str, in_domain: str, kinds: dict[str, str]) -> dict[tuple[str, str], float]:
    """{(model, test set): AUROC of the image confidence ``column`` telling the model's
    ``in_domain`` images (positives) from the test set's} for every other segmentation test set."""
    from segrel.evaluate.metrics import auroc

    aurocs = {}
    for (model, test_set), group in images.groupby(["model", "test_set"]):
        positives = images[(images.model == model) & (images.test_set == in_domain)][column].to_numpy()
        if test_set == in_domain or kinds[test_set] != "segmentation" or not len(positives):
            continue
        scores = np.r_[positives, group[column].to_numpy()]
        labels = np.r_[np.ones(len(positives), bool), np.zeros(len(group), bool)]
        aurocs[model, test_set] = auroc(scores, labels)
    return aurocs
