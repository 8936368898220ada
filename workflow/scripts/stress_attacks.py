"""Rule stress_attacks: mIoU per (model, attack), ReM per model (with GAM where the corruptions
are configured) and the mIoU after each attack iteration."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import pandas as pd

from segrel.core.io import atomic_file
from segrel.core.logs import log
from segrel.evaluate.metrics_table import read_metrics
from segrel.stress.tables import attack_curve_table, attack_table, gam_table, rem_table

metrics, params = read_metrics(snakemake.input.metrics), snakemake.params
attacks = attack_table(metrics, params.attacked, params.clean)
gams = gam_table(metrics, params.gam_sets, params.clean) if params.gam_sets else None
tables = {"attacks": attacks, "rem": rem_table(attacks, gams),
          "curves": attack_curve_table(pd.read_csv(snakemake.input.ablations), params.attacked)}
for name, table in tables.items():
    with atomic_file(snakemake.output[name]) as handle:
        table.to_csv(handle, index=False)
log(tables["rem"].to_string())
