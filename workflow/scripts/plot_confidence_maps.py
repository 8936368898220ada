"""Rule plot_confidence_maps: image, ground truth, prediction, MSP and errors of one model on
the first images of every test set."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from segrel.analyse.figures import confidence_map_row, confidence_maps_figure
from segrel.core import formats
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
        rows.append(confidence_map_row(name, sample.name, formats.read_image(sample.image), label, prediction,
                                       confidence, formats.dataset_format(spec["format"]).kind))
    log(f"{name}: {len(samples)} images")
figure, data = confidence_maps_figure(rows)
write_figure(figure, data, snakemake.output)
