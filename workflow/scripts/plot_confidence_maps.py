"""Rule plot_confidence_maps: image, ground truth, prediction, MSP and errors of one model on
the first images of every test set."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import numpy as np

from segrel.analyse.figures import confidence_maps_figure
from segrel.core import formats
from segrel.core import labels as lb
from segrel.core.devices import resolve_device
from segrel.core.figures import write_figure
from segrel.core.logs import log
from segrel.evaluate.evaluation import predict_image
from segrel.models.segmentors import load_model

device = resolve_device(snakemake.params.device)
model = load_model(snakemake.input.config, snakemake.input.checkpoint, device=device)
rows = []
for name, spec in snakemake.params.test_sets.items():
    samples = sorted(formats.list_samples(spec["format"], spec["root"], spec["split"], spec["subset"]),
                     key=lambda sample: sample.name)[: snakemake.params.images]
    for sample in samples:
        prediction, confidence = predict_image(model, sample.image)
        label = formats.read_label(spec["format"], sample.label, spec["unknown_ids"])
        if formats.dataset_format(spec["format"]).kind == "anomaly":  # white anomalies, grey void
            ground_truth = np.select([label == lb.ANOMALY_YES, label == lb.ANOMALY_VOID], [255, 128], 0)
            ground_truth = np.repeat(ground_truth[..., None], 3, axis=2).astype(np.uint8)
            marked = np.where(label == lb.ANOMALY_VOID, np.nan, (label == lb.ANOMALY_YES).astype(float))
        else:
            ground_truth = lb.TRAINID_COLORS[label]
            marked = np.where(label == lb.VOID, np.nan, (prediction != label).astype(float))
        rows.append({"test_set": name, "name": sample.name, "image": formats.read_image(sample.image),
                     "ground_truth": ground_truth, "prediction": lb.TRAINID_COLORS[prediction],
                     "confidence": confidence, "marked": marked})
    log(f"{name}: {len(samples)} images")
figure, data = confidence_maps_figure(rows)
write_figure(figure, data, snakemake.output)
