"""Stage "calibrate": calibrators fitted per model on a calibration set's sampled pixels
(temperature scaling, clustering TS, local TS), applied through the evaluation code.

``fit_temperature`` and ``relative_ece_improvement`` are imported on first use, so that the
config checks (``segrel.calibrate.checks``) do not import torch into every Snakemake parse."""

__all__ = ["fit_temperature", "relative_ece_improvement"]


def __getattr__(name):
    if name in __all__:
        from segrel.calibrate import temperature

        return getattr(temperature, name)
    raise AttributeError(f"module 'segrel.calibrate' has no attribute {name!r}")
