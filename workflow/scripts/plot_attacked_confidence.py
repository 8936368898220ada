"""Rule plot_attacked_confidence: one model's prediction and confidence on the first image of the
clean test set and of each attacked test set (its adversarial example, made again by the
evaluation's own attack code with the image's seed)."""

import sys
from functools import partial

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from segrel.analyse.figures import confidence_map_row, confidence_maps_figure
from segrel.core import formats
from segrel.core.devices import resolve_device
from segrel.core.figures import write_figure
from segrel.core.logs import log
from segrel.evaluate.evaluation import predict_image
from segrel.models.segmentors import load_model
from segrel.stress.attacks import AttackSettings, BatchAttack

device = resolve_device(snakemake.params.device)
model = load_model(snakemake.input.config, snakemake.input.checkpoint, device=device)
rows = []
for name, spec in snakemake.params.test_sets.items():
    sample = formats.list_samples(spec["format"], spec["root"], spec["split"], spec["subset"])[0]
    attacker = (BatchAttack(model, spec["format"], AttackSettings(**spec["attack"]), spec["unknown_ids"],
                            keep_images=True) if spec["attack"] else None)
    prediction, confidence = predict_image(model, sample.image, partial(attacker, batch=[sample]) if attacker else None)
    image = attacker.images[sample.name] if attacker else formats.read_image(sample.image)
    label = formats.read_label(spec["format"], sample.label, spec["unknown_ids"])
    rows.append(confidence_map_row(name, sample.name, image, label, prediction, confidence))
    log(f"{name}: {sample.name}")
figure, data = confidence_maps_figure(rows)
write_figure(figure, data, snakemake.output)
