"""Rule plot_rare_domains: Loiseau et al. Fig. 7, images generated in rare domains with the
predictions of each configured model."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from segrel.analyse.figures import rare_domains_figure
from segrel.core import formats
from segrel.core.devices import resolve_device
from segrel.core.figures import write_figure
from segrel.core.logs import log
from segrel.evaluate.evaluation import predict_image
from segrel.models.segmentors import import_mmseg_for, load_model

device = resolve_device(snakemake.params.device)
# mmseg with mmdet if any of the models needs it (a process imports it once)
import_mmseg_for(*snakemake.input.configs)
models = {name: load_model(config, checkpoint, device=device) for name, config, checkpoint
          in zip(snakemake.params.models, snakemake.input.configs, snakemake.input.checkpoints, strict=True)}
rows = []
for domain, folder in zip(snakemake.params.domains, snakemake.input.domains, strict=True):
    for sample in sorted(formats.list_samples("cityscapes", folder, "val"), key=lambda sample: sample.name):
        rows.append({"domain": domain, "name": sample.name, "image": formats.read_image(sample.image),
                     "label": formats.read_label("cityscapes", sample.label),
                     "predictions": {name: predict_image(model, sample.image)[0] for name, model in models.items()}})
    log(f"{domain}: {sum(row['domain'] == domain for row in rows)} images")
figure, data = rare_domains_figure(rows, snakemake.params.texts)
write_figure(figure, data, snakemake.output)
