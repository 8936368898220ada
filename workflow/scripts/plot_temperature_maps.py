"""Rule plot_temperature_maps: RELIS Fig. 21, local TS' temperature map of one model on the first
images of a test set, beside the image, the prediction and its errors."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import numpy as np

from segrel.calibrate.calibrators import (
    load_calibrators,
    model_fingerprint,
    normalise_image,
    preprocessor_statistics,
)
from segrel.calibrate.figures import temperature_maps_figure
from segrel.core import formats
from segrel.core import labels as lb
from segrel.core.devices import resolve_device
from segrel.core.figures import write_figure
from segrel.core.logs import log
from segrel.evaluate.evaluation import forward_passes
from segrel.models.segmentors import load_model

model = load_model(snakemake.input.config, snakemake.input.checkpoint, device=resolve_device(snakemake.params.device))
local = load_calibrators(snakemake.input.calibrators, snakemake.params.model, model_fingerprint(model))["local"]
((name, spec),) = snakemake.params.test_set.items()
samples = sorted(formats.list_samples(spec["format"], spec["root"], spec["split"], spec["subset"]),
                 key=lambda sample: sample.name)[: snakemake.params.images]
mean, std = preprocessor_statistics(model)
rows = []
for sample, logits, prediction, _ in forward_passes(model, samples, batch_size=1):
    image = formats.read_image(sample.image)
    temperature = local.temperature(logits.float(), normalise_image(image, mean, std).to(logits.device))
    label = formats.read_label(spec["format"], sample.label, spec["unknown_ids"])
    prediction = prediction.cpu().numpy()
    rows.append({"name": sample.name, "image": image, "prediction": lb.TRAINID_COLORS[prediction],
                 "temperature": temperature.cpu().numpy(),
                 "errors": np.where(label == lb.VOID, np.nan, (prediction != label).astype(float))})
log(f"{snakemake.params.model} on {name}: {len(rows)} images, calibration set {snakemake.params.calibration_set}")
figure, data = temperature_maps_figure(rows, f"{snakemake.params.model}, LTS fitted on "
                                             f"{snakemake.params.calibration_set}, {name}")
write_figure(figure, data, snakemake.output)
