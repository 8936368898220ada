"""Rule plot_stress: one of the stress stage's figures (corruptions, scenarios, severity_curves, gam,
s_robust, proxies, attacks, attack_curves, rem) from its table."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import pandas as pd

from segrel.core.figures import write_figure
from segrel.stress import figures

table, params = pd.read_csv(snakemake.input.table), snakemake.params
figure, data = {
    "corruptions": lambda: figures.corruption_heatmap(table, params.severity),
    "scenarios": lambda: figures.corruption_heatmap(table, None),
    "severity_curves": lambda: figures.severity_curves(table, params.curves, params.families),
    "gam": lambda: figures.gam_figure(table, params.families),
    "s_robust": lambda: figures.s_robust_figure(table),
    "proxies": lambda: figures.proxy_figure(table),
    "attacks": lambda: figures.attack_heatmap(table),
    "attack_curves": lambda: figures.attack_curves(table, params.families),
    "rem": lambda: figures.rem_figure(table, params.families),
}[snakemake.wildcards.figure]()
write_figure(figure, data, snakemake.output)
