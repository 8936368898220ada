"""Stage "calibrate": calibrators fitted per model on a calibration set's sampled pixels
(temperature scaling; clustering TS and local TS to come), applied through the evaluation code."""

from segrel.calibrate.temperature import fit_temperature, relative_ece_improvement

__all__ = ["fit_temperature", "relative_ece_improvement"]
