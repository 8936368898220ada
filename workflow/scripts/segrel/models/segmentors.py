"""Segmentation models as (mmseg config, checkpoint) pairs: the demo zoo's training and the
loader every later stage uses, for the demo models and mmseg's zoo checkpoints alike.

Demo models start from mmsegmentation's own Cityscapes configs (shipped in ``mmseg/.mim``),
with SyncBN replaced by BN (one process, CPU), no ImageNet-pretrained weights (nothing can be
downloaded), the demo's image size, and a bounded number of iterations of mmseg's own
training loop. They are saved as the zoo saves them: ``<name>.py`` (the full config) and
``<name>.pth`` (``meta`` + ``state_dict`` only), so :func:`load_model` reads both kinds.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from segrel.core.io import atomic_directory, atomic_file
from segrel.core.settings import SectionSettings

# Packages that mmengine, mmseg and mmdet import only for features segrel never uses, each in a
# try/except ImportError: transformers (mmengine registers its Adafactor; mmdet's GLIP text
# encoder), timm (mmseg's TIMMBackbone) and seaborn (mmdet's tracking plots).
UNUSED_OPTIONAL_IMPORTS = ("transformers", "timm", "seaborn")
_imported_without_mmdet = False


def needs_mmdet(config) -> bool:
    """Whether an mmseg config (file or ``mmengine.Config``) builds a part of mmdet: mmseg's
    Mask2Former and MaskFormer heads (subclasses of mmdet's) or any ``mmdet.`` type."""
    from mmengine.config import Config

    cfg = Config.fromfile(str(config)) if isinstance(config, (str, Path)) else config
    return output_kind(cfg) == "probabilities" or "mmdet." in str(cfg.to_dict())


def import_openmmlab(*packages: str) -> None:
    """Import the APIs and models of ``packages`` ("mmseg", "mmdet") without the unused optional
    packages above, nor mmdet unless asked for (mmseg imports it for its Mask2Former and
    MaskFormer heads only): mmseg alone 7.3 -> 2.8 s a job on 2 cores, paid by ~70 demo jobs
    (benchmarks/import_overhead.py). A hidden package imports as usual afterwards; mmseg with
    mmdet asked for after mmseg was imported without it is an error (its Mask2Former head would
    be built on an empty base class). segrel's own heads (:mod:`segrel.models.heads`) are
    registered with mmseg's."""
    import sys

    if {"mmseg", "mmdet"} <= set(packages) and _imported_without_mmdet:
        raise RuntimeError("this process imported mmseg without mmdet (for a model that did not need it); "
                           "load models that need mmdet (Mask2Former, MaskFormer) in a process of their own")
    wanted = [name for name in ("mmseg", "mmdet") if name in packages and f"{name}.apis" not in sys.modules]
    if wanted:
        _import_hiding_unused(wanted, packages)
    if "mmseg" in packages:
        import segrel.models.heads  # noqa: F401 (registers segrel's heads with mmseg's)


def _import_hiding_unused(wanted: list[str], packages) -> None:
    """Import the APIs of ``wanted`` with UNUSED_OPTIONAL_IMPORTS (and mmdet, unless in
    ``packages``) made unimportable meanwhile."""
    import importlib
    import sys

    global _imported_without_mmdet
    hidden = [name for name in (*UNUSED_OPTIONAL_IMPORTS, *(() if "mmdet" in packages else ("mmdet",)))
              if name not in sys.modules]
    for name in hidden:
        sys.modules[name] = None  # `import name` raises ModuleNotFoundError (an ImportError)
    try:
        for name in wanted:
            importlib.import_module(f"{name}.apis")  # (imports its models)
    finally:
        for name in hidden:
            if sys.modules.get(name, 0) is None:
                del sys.modules[name]
    if "mmseg" in wanted:
        _imported_without_mmdet = "mmdet" not in packages


def import_mmseg_for(*configs) -> None:
    """mmseg as the models of ``configs`` (files or ``mmengine.Config``) need it: with mmdet if one does."""
    import_openmmlab("mmseg", *(["mmdet"] if any(needs_mmdet(config) for config in configs) else []))


def mmseg_config_dir() -> Path:
    import mmseg

    return Path(mmseg.__file__).parent / ".mim" / "configs"


def replace_syncbn(node):
    """SyncBN needs a process group; on one process (CPU or one GPU) BN is the same layer."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "type" and value == "SyncBN":
                node[key] = "BN"
            else:
                replace_syncbn(value)
    elif isinstance(node, list):
        for item in node:
            replace_syncbn(item)


def drop_pretrained(node):
    """Remove ImageNet initialisation (a download); weights start from mmseg's own init."""
    if isinstance(node, dict):
        if node.get("pretrained"):
            node["pretrained"] = None
        init = node.get("init_cfg")
        if isinstance(init, dict) and init.get("type") == "Pretrained":
            node["init_cfg"] = None
        for value in node.values():
            drop_pretrained(value)
    elif isinstance(node, list):
        for item in node:
            drop_pretrained(item)


def write_inference_config(config_file: str | Path, out) -> None:
    """An mmseg config file as segrel runs a released or a user's model: SyncBN -> BN (one
    process) and no ImageNet initialisation (the checkpoint replaces it, and it would be a
    download), written atomically to ``out``."""
    from mmengine.config import Config

    cfg = Config.fromfile(str(config_file))
    model = cfg.model.to_dict()
    replace_syncbn(model)
    drop_pretrained(model)
    cfg.model = model
    with atomic_file(out) as handle:
        handle.write(cfg.pretty_text)  # what Config.dump writes for a .py file


@dataclass(frozen=True, kw_only=True)
class TrainingSchedule(SectionSettings):
    """How a model learns from the train split of a Cityscapes-layout dataset: a demo model from
    scratch, or any model from its own checkpoint (the ``stress_scenario_model`` rule's
    ``params.schedule``)."""

    SECTION = "stress.scenario_training"

    image_size: list  # [height, width] of the images (the scale of the random resize)
    crop_size: list  # [height, width] of the training crops
    iterations: int  # optimiser steps
    batch_size: int  # images per step
    learning_rate: float  # AdamW
    seed: int  # mmengine's randomness seed
    photometric_distortion: bool  # mmseg's PhotoMetricDistortion among the augmentations
    resize_ratio: list  # [low, high] of the random resize before the crop (mmseg's Cityscapes: [0.5, 2])


@dataclass(frozen=True, kw_only=True)
class DemoTrainingSettings(TrainingSchedule):
    """What shapes one demo model: its ``models.<name>`` entry with ``model_training`` (the
    train_demo_model rule's ``params.settings``)."""

    SECTION = "model_training (one demo model)"

    base: str  # mmseg config, relative to the configs mmseg ships
    overrides: dict  # {dotted key: value} merged into ``base`` first, e.g. to narrow a head
    snapshots: list  # iterations < ``iterations`` whose weights are also kept (earlier stops of the run)


def shipped_config(configs_dir: Path, base: str, overrides: dict, package: str = "mmseg"):
    """The mmengine Config ``base`` of the configs a package ships (``configs_dir``), with the
    dotted-key ``overrides`` merged in; a missing file is one error naming the folder."""
    from mmengine.config import Config

    path = Path(configs_dir) / base
    if not path.is_file():
        raise FileNotFoundError(f"{package} ships no config {base!r} (looked in {configs_dir})")
    cfg = Config.fromfile(str(path))
    if overrides:
        cfg.merge_from_dict(dict(overrides))
    return cfg


def demo_model_config(base: str, crop_size, image_size, overrides: dict | None = None):
    """mmseg's shipped ``base`` config as the demo builds it: ``overrides`` merged, one CPU
    process's model on ``crop_size`` crops (:func:`_demo_model`) and a test pipeline at
    ``image_size``."""
    cfg = shipped_config(mmseg_config_dir(), base, overrides or {})
    cfg.model = _demo_model(cfg.model.to_dict(), crop_size)
    cfg.test_pipeline = _test_pipeline(image_size)
    return cfg


def demo_training_config(settings: DemoTrainingSettings, *, data_root: str, work_dir: str):
    """An mmengine Config that trains mmseg's ``settings.base`` config on a Cityscapes-layout dataset."""
    cfg = demo_model_config(settings.base, settings.crop_size, settings.image_size, settings.overrides)
    _set_training(cfg, settings, data_root=data_root, work_dir=work_dir, snapshots=settings.snapshots)
    return cfg


def finetuning_config(model_config: str | Path, checkpoint: str | Path, schedule: TrainingSchedule, *,
                      data_root: str, work_dir: str):
    """An mmengine Config that trains a model (its inference config, as the models stage writes
    it) on a Cityscapes-layout dataset from ``checkpoint``'s weights, loaded strictly; its test
    pipeline and test mode stay the model's own."""
    from mmengine.config import Config

    cfg = Config.fromfile(str(model_config))
    cfg.model.data_preprocessor.size = tuple(schedule.crop_size)  # mmseg pads the crops to it
    _set_training(cfg, schedule, data_root=data_root, work_dir=work_dir)
    cfg.custom_hooks.insert(0, {"type": _load_hook(), "checkpoint": str(checkpoint), "config": str(model_config)})
    return cfg


def _set_training(cfg, schedule: TrainingSchedule, *, data_root: str, work_dir: str, snapshots=()) -> None:
    """Set ``cfg`` up to train on ``data_root``'s train split as ``schedule`` says (see
    :func:`set_iteration_training`)."""
    pipeline = _train_pipeline(schedule.image_size, schedule.crop_size, schedule.resize_ratio,
                               schedule.photometric_distortion)
    cfg.train_dataloader = _train_dataloader(data_root, schedule.batch_size, pipeline)
    set_iteration_training(cfg, iterations=schedule.iterations, learning_rate=schedule.learning_rate,
                           seed=schedule.seed, work_dir=work_dir, snapshots=snapshots)


def set_iteration_training(cfg, *, iterations: int, learning_rate: float, seed: int, work_dir: str, snapshots=(),
                           scope: str = "Seg") -> None:
    """mmengine runner settings shared by every model segrel trains (mmseg's, ``scope`` "Seg", and
    mmdet's, "Det"): ``iterations`` steps of AdamW with warm-up and poly decay, no validation,
    zoo-like weights (meta + state_dict, no optimiser state) saved to ``work_dir`` after
    ``snapshots`` and the last iterations. The train dataloader is the caller's."""
    for key in ("val_dataloader", "val_evaluator", "val_cfg", "test_dataloader", "test_evaluator", "test_cfg"):
        cfg[key] = None
    cfg.train_cfg = {"type": "IterBasedTrainLoop", "max_iters": iterations, "val_interval": iterations + 1}
    cfg.optim_wrapper = {
        "type": "OptimWrapper",
        "optimizer": {"type": "AdamW", "lr": learning_rate, "betas": (0.9, 0.999), "weight_decay": 0.01},
        "clip_grad": {"max_norm": 10.0},
    }
    cfg.param_scheduler = warmup_then_poly(iterations)
    cfg.default_hooks = _hooks(iterations, scope)
    cfg.custom_hooks = [{"type": weights_hook(), "iterations": sorted({*snapshots, iterations}), "out_dir": work_dir}]
    cfg.visualizer = {"type": f"{scope}LocalVisualizer", "vis_backends": [], "name": "visualizer"}
    cfg.log_processor = {"by_epoch": False}
    cfg.randomness = {"seed": seed, "deterministic": False}
    cfg.env_cfg = {"cudnn_benchmark": False, "mp_cfg": {"mp_start_method": "fork", "opencv_num_threads": 0},
                   "dist_cfg": {"backend": "gloo"}}
    cfg.work_dir = work_dir
    cfg.load_from = None
    cfg.resume = False


def _demo_model(model: dict, crop_size) -> dict:
    """mmseg's model config for one CPU process, no downloads and the demo's crops."""
    crop_h, crop_w = crop_size
    replace_syncbn(model)
    drop_pretrained(model)
    model["data_preprocessor"]["size"] = (crop_h, crop_w)
    model["test_cfg"] = {"mode": "whole"}  # demo images are smaller than any sliding window
    return model


def _train_pipeline(image_size, crop_size, resize_ratio, photometric_distortion: bool) -> list[dict]:
    """mmseg's Cityscapes augmentations, at the demo's image and crop sizes."""
    height, width = image_size
    crop_h, crop_w = crop_size
    return [
        {"type": "LoadImageFromFile"},
        {"type": "LoadAnnotations"},
        {"type": "RandomResize", "scale": (width, height), "ratio_range": tuple(resize_ratio), "keep_ratio": True},
        {"type": "RandomCrop", "crop_size": (crop_h, crop_w), "cat_max_ratio": 0.75},
        {"type": "RandomFlip", "prob": 0.5},
        *([{"type": "PhotoMetricDistortion"}] if photometric_distortion else []),
        {"type": "PackSegInputs"},
    ]


def _test_pipeline(image_size) -> list[dict]:
    height, width = image_size
    return [
        {"type": "LoadImageFromFile"},
        {"type": "Resize", "scale": (width, height), "keep_ratio": True},
        {"type": "LoadAnnotations"},
        {"type": "PackSegInputs"},
    ]


def _train_dataloader(data_root: str, batch_size: int, pipeline: list[dict]) -> dict:
    """The train split of a Cityscapes-layout dataset, in the main process (num_workers 0)."""
    return {
        "batch_size": batch_size,
        "num_workers": 0,
        "persistent_workers": False,
        "sampler": {"type": "InfiniteSampler", "shuffle": True},
        "dataset": {
            "type": "CityscapesDataset",
            "data_root": data_root,
            "data_prefix": {"img_path": "leftImg8bit/train", "seg_map_path": "gtFine/train"},
            "pipeline": pipeline,
        },
    }


def warmup_then_poly(iterations: int) -> list[dict]:
    """Linear warm-up over the first tenth of training, then mmseg's poly decay."""
    warmup = max(1, iterations // 10)
    schedule = [{"type": "LinearLR", "start_factor": 0.1, "by_epoch": False, "begin": 0, "end": warmup}]
    if iterations > warmup:  # mmengine refuses an empty poly phase (a 1-iteration run)
        schedule.append({"type": "PolyLR", "power": 1.0, "eta_min": 0.0, "by_epoch": False, "begin": warmup,
                         "end": iterations})
    return schedule


def _hooks(iterations: int, scope: str) -> dict:
    """Logging about 20 times a run, no visualisation; weights are saved by :func:`weights_hook`."""
    return {
        "timer": {"type": "IterTimerHook"},
        "logger": {"type": "LoggerHook", "interval": max(1, iterations // 20), "log_metric_by_epoch": False},
        "param_scheduler": {"type": "ParamSchedulerHook"},
        "checkpoint": None,
        "sampler_seed": {"type": "DistSamplerSeedHook"},
        "visualization": {"type": f"{scope}VisualizationHook", "draw": False},
    }


def _registered_hook(name: str, define) -> str:
    """Registers the mmengine Hook class ``define()`` returns under ``name`` (once; mmengine is
    imported only when a model trains) and gives the name for a config's hooks."""
    from mmengine.registry import HOOKS

    if name not in HOOKS.module_dict:
        HOOKS.register_module(name=name, module=define())
    return name


def _unwrapped(runner):
    from mmengine.model import is_model_wrapper

    return runner.model.module if is_model_wrapper(runner.model) else runner.model


def weights_hook() -> str:
    """A hook that saves zoo-like checkpoints (``meta`` + ``state_dict``, no optimiser state) as
    ``<out_dir>/iter_<n>.pth`` after the given iterations."""

    def define():
        from mmengine.hooks import Hook

        class WeightsHook(Hook):
            priority = "VERY_LOW"

            def __init__(self, iterations, out_dir):
                self.iterations, self.out_dir = set(iterations), Path(out_dir)

            def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
                if runner.iter + 1 not in self.iterations:
                    return
                meta = {"iterations": runner.iter + 1, "seed": runner.seed,
                        "dataset_meta": runner.train_dataloader.dataset.metainfo}
                state = {key: value.detach().cpu() for key, value in _unwrapped(runner).state_dict().items()}
                self.out_dir.mkdir(parents=True, exist_ok=True)
                torch.save({"meta": meta, "state_dict": state}, self.out_dir / f"iter_{runner.iter + 1}.pth")

        return WeightsHook

    return _registered_hook("SegrelWeightsHook", define)


def _load_hook() -> str:
    """A hook that loads a checkpoint into the model strictly (:func:`load_strictly`) before
    training starts: after the runner's own weight initialisation, which would overwrite weights
    loaded any earlier."""

    def define():
        from mmengine.hooks import Hook

        class LoadWeightsHook(Hook):
            priority = "VERY_HIGH"

            def __init__(self, checkpoint, config):
                self.checkpoint, self.config = checkpoint, config

            def before_train(self, runner):
                if runner.iter:  # resumed: the run's own checkpoint is loaded (see run_training)
                    return
                with trusted_torch_load():
                    load_strictly(_unwrapped(runner), self.checkpoint, "cpu", config=self.config)

        return LoadWeightsHook

    return _registered_hook("SegrelLoadWeightsHook", define)


def train_demo_model(config_out: str | Path, checkpoint_out: str | Path, settings: DemoTrainingSettings, *,
                     data_root: str, snapshots_out: str | Path | None = None) -> None:
    """Train with mmseg's runner; save the config and a zoo-like checkpoint (meta + state_dict),
    and the weights after each of ``settings.snapshots`` iterations as
    ``<snapshots_out>/iter_<n>.pth`` (see :func:`copy_snapshot`)."""
    run_training(lambda work_dir: demo_training_config(settings, data_root=data_root, work_dir=work_dir),
                 settings.iterations, config_out, checkpoint_out, snapshots=settings.snapshots,
                 snapshots_out=snapshots_out)


def finetune_model(model_config: str | Path, checkpoint: str | Path, schedule: TrainingSchedule, *, data_root: str,
                   config_out: str | Path, checkpoint_out: str | Path) -> None:
    """Train a model further from ``checkpoint`` on ``data_root``'s train split (e.g. a background
    scenario's copy: XImageNet-12's C'(i)); save it as :func:`train_demo_model` does."""
    run_training(lambda work_dir: finetuning_config(model_config, checkpoint, schedule, data_root=data_root,
                                                    work_dir=work_dir),
                 schedule.iterations, config_out, checkpoint_out)


def run_training(make_config, iterations: int, config_out: str | Path, checkpoint_out: str | Path, *,
                 snapshots=(), snapshots_out: str | Path | None = None, resume_every: int | None = None,
                 inference_config=None) -> None:
    """Run mmengine's runner (an mmseg or mmdet config) on ``make_config(work_dir)`` in a scratch
    folder beside the outputs; move the inference config (``inference_config(cfg)`` edits it
    first) and the weights into place only once training has finished. ``resume_every``: a
    resumable checkpoint (weights, optimiser, schedule) every that many iterations in a folder
    that outlives a killed job (``.<checkpoint name>.resume`` beside it), from which the next
    run of the job resumes; removed once the run finishes. A resumed run continues the same
    schedule; its random augmentations after the resume point are not those of an
    uninterrupted run (the generators' states are not checkpointed)."""
    from mmengine.runner import Runner

    config_out, checkpoint_out = Path(config_out), Path(checkpoint_out)
    checkpoint_out.parent.mkdir(parents=True, exist_ok=True)
    if resume_every:
        scratch = checkpoint_out.parent / f".{checkpoint_out.name}.resume"
        scratch.mkdir(exist_ok=True)
        context = contextlib.nullcontext(str(scratch))
    else:
        context = tempfile.TemporaryDirectory(prefix=".training.", dir=checkpoint_out.parent)
    with context as scratch:
        weights = Path(scratch) / "weights"
        cfg = make_config(str(weights))
        if resume_every:
            cfg.default_hooks["checkpoint"] = {"type": "CheckpointHook", "interval": resume_every, "by_epoch": False,
                                               "max_keep_ckpts": 1, "save_last": False,
                                               "filename_tmpl": "resume_{}.pth"}
            cfg.resume = True  # from the latest checkpoint in the work dir, if any
        if cfg.get("default_scope") == "mmdet":
            import_openmmlab("mmdet")
        else:
            import_mmseg_for(cfg)
        with trusted_torch_load() if resume_every else contextlib.nullcontext():  # its own resume checkpoint
            Runner.from_cfg(cfg).train()
        for key in ("train_dataloader", "train_cfg", "optim_wrapper", "param_scheduler", "custom_hooks"):
            cfg[key] = None  # an inference config, as the zoo ships
        cfg.default_hooks["checkpoint"] = None
        if inference_config:
            inference_config(cfg)
        cfg.dump(str(Path(scratch) / "config.py"))
        if snapshots_out is not None:
            with atomic_directory(snapshots_out) as kept:
                for stop in snapshots:
                    os.replace(weights / f"iter_{stop}.pth", kept / f"iter_{stop}.pth")
        os.replace(weights / f"iter_{iterations}.pth", checkpoint_out)
        os.replace(Path(scratch) / "config.py", config_out)
    if resume_every:
        shutil.rmtree(scratch)


def copy_snapshot(snapshots, iterations: int, run_config, config_out: str | Path, checkpoint_out: str | Path) -> None:
    """A demo model that is an earlier stop of another one's training run: the weights that
    :func:`train_demo_model` kept after ``iterations`` iterations, with the run's config."""
    source = Path(snapshots) / f"iter_{iterations}.pth"
    if not source.is_file():
        kept = sorted(path.name for path in Path(snapshots).glob("iter_*.pth"))
        raise FileNotFoundError(f"{snapshots} holds no weights after {iterations} iterations (it has {kept}); "
                                "its training run must list the iterations in its settings' snapshots")
    for path, out in ((source, checkpoint_out), (run_config, config_out)):
        with atomic_file(out, "wb") as handle, open(path, "rb") as original:
            shutil.copyfileobj(original, handle)


# mmseg decode heads whose ``seg_logits`` are not logits: MaskFormer's and Mask2Former's
# predict() sums softmax(class scores) x sigmoid(mask) over the queries (mmseg 1.2.2,
# mmseg/models/decode_heads/maskformer_head.py), non-negative per-class scores.
PROBABILITY_HEADS = frozenset({"MaskFormerHead", "Mask2FormerHead"})


def output_kind(cfg) -> str:
    """"probabilities" if the model's decode head returns per-class scores (see
    PROBABILITY_HEADS), else "logits"; read from its config (``model.cfg`` of a loaded model),
    never from its name. A cascade decides by its last head, the one that predicts.

    >>> output_kind({"model": {"decode_head": {"type": "Mask2FormerHead"}}})
    'probabilities'
    >>> output_kind({"model": {"decode_head": [{"type": "FCNHead"}, {"type": "OCRHead"}]}})
    'logits'
    """
    head = cfg["model"]["decode_head"]
    if isinstance(head, (list, tuple)):
        head = head[-1]
    head_type = str(head["type"]).rpartition(".")[2]  # "mmdet.X" -> "X"
    return "probabilities" if head_type in PROBABILITY_HEADS else "logits"


def load_model(config, checkpoint: str | Path, device: str = "cpu"):
    """An mmseg segmentor in eval mode, from a config (file or ``mmengine.Config``) and a
    checkpoint (demo or zoo), loaded strictly (:func:`load_strictly`)."""
    import_mmseg_for(config)
    import mmseg.apis.inference
    from mmseg.apis import init_model

    return cpu_channels_last(strictly_initialised(mmseg.apis.inference, init_model, config, checkpoint, device=device))


def strictly_initialised(inference_module, init, config, checkpoint: str | Path, **kwargs):
    """``init(config, checkpoint, **kwargs)`` (mmseg's init_model, mmdet's init_detector) with the
    checkpoint loaded by :func:`load_strictly` in place of the ``load_checkpoint`` its
    ``inference_module`` calls, and trusted by torch.load; the model in eval mode."""
    original_loader = inference_module.load_checkpoint
    inference_module.load_checkpoint = functools.partial(load_strictly, config=config)
    try:
        with trusted_torch_load():
            model = init(str(config) if isinstance(config, (str, Path)) else config, str(checkpoint), **kwargs)
    finally:
        inference_module.load_checkpoint = original_loader
    return model.eval()


def cpu_channels_last(model):
    """On CPU, a segmentor's 4-D weights channels-last, so its convolutions run in oneDNN's
    channels-last kernels: per image through the evaluation at 128x256 on one thread,
    upernet_r18 64 -> 43 ms, deeplabv3plus_r18 49 -> 40, bisenetv2 36 -> 26, segformer_b0 43 ->
    39, with the same mIoU and ECE to 6 decimals. Not on a GPU, and not for a model with mmcv's
    compiled ops, which may read their inputs as NCHW (the demo's Faster R-CNN, with mmcv's
    RoIAlign, detected other boxes channels-last)."""
    on_cpu = next(model.parameters()).device.type == "cpu"
    if on_cpu and not any(type(module).__module__.startswith("mmcv.ops") for module in model.modules()):
        model.to(memory_format=torch.channels_last)
    return model


@contextlib.contextmanager
def trusted_torch_load():
    """torch.load with weights_only=False: zoo and demo checkpoints hold numpy/mmengine objects in
    ``meta``, which torch >= 2.6 refuses otherwise, and mmengine's loader does not pass it."""
    original_load = torch.load

    def load(*args, **kwargs):
        kwargs.setdefault("weights_only", False)
        return original_load(*args, **kwargs)

    torch.load = load
    try:
        yield
    finally:
        torch.load = original_load


def load_strictly(model, filename, map_location=None, *, config, **kwargs) -> dict:
    """mmengine's load_checkpoint, but a checkpoint that does not fit the model (missing or
    unexpected keys, other shapes: another architecture's weights) is an error naming both,
    where mmengine would warn and keep random weights for what it could not load."""
    from mmengine.runner.checkpoint import _load_checkpoint, _load_checkpoint_to_model

    try:
        checkpoint = _load_checkpoint(filename, map_location)
    except Exception as error:  # a truncated or foreign file: pickle / zip errors of any kind
        raise ValueError(f"{filename}: cannot be read as a checkpoint ({type(error).__name__}: {error}); "
                         "download or copy it again") from None
    given = {key.removeprefix("module."): value for key, value in checkpoint.get("state_dict", checkpoint).items()}
    expected = model.state_dict()
    problems = {
        "missing": [key for key in expected if key not in given and not key.endswith("num_batches_tracked")],
        "unexpected": [key for key in given if key not in expected],
        "of another shape": [key for key in expected if key in given and
                             getattr(given[key], "shape", None) != expected[key].shape],
    }
    found = [f"{len(keys)} {kind} (e.g. {', '.join(keys[:3])})" for kind, keys in problems.items() if keys]
    if found:
        raise ValueError(f"{filename} does not fit the model of {config}: {'; '.join(found)} keys; it is another "
                         "architecture's checkpoint, or the config is not the one it was trained with")
    _load_checkpoint_to_model(model, checkpoint, strict=True)
    return checkpoint
