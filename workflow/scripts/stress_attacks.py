"""Rule stress_attacks: mIoU per (model, attack) beside the model's clean mIoU on the same images,
ReM per model (with GAM where the corruptions are configured) and the mIoU after each attack
iteration."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import pandas as pd

from segrel.core import labels as lb
from segrel.core.io import atomic_file
from segrel.core.logs import log
from segrel.evaluate.evaluation import load_merged
from segrel.evaluate.metrics_table import read_metrics
from segrel.stress.tables import attack_curve_table, attack_table, clean_miou_on_images, gam_table, rem_table

metrics, params = read_metrics(snakemake.input.metrics), snakemake.params
# the clean mIoU on each attacked set's own images, from the clean set's per-image confusions
states = {key: load_merged(paths) for key, paths in params.shards.items()}
excluded = lb.train_ids(params.excluded_classes)
clean_on_images = {(model, name): clean_miou_on_images(states[model, params.clean], state.image_names, excluded)
                   for (model, name), state in states.items() if name != params.clean}
attacks = attack_table(metrics, params.attacked, clean_on_images)
gams = gam_table(metrics, params.gam_sets, params.clean) if params.gam_sets else None
tables = {"attacks": attacks, "rem": rem_table(attacks, gams),
          "curves": attack_curve_table(pd.read_csv(snakemake.input.ablations), params.attacked)}
for name, table in tables.items():
    with atomic_file(snakemake.output[name]) as handle:
        table.to_csv(handle, index=False)
log(tables["rem"].to_string())
