"""Rule plot_detect: one of the detect stage's figures (corruptions, attacks, robustness,
attack_curves) from its
table, drawn by the stress stage's figure code with mAP as the measure."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import pandas as pd

from segrel.core.figures import write_figure
from segrel.stress import figures

table, params = pd.read_csv(snakemake.input.table), snakemake.params
figure, data = {
    "corruptions": lambda: figures.corruption_heatmap(table, params.severity, "map"),
    "attacks": lambda: figures.attack_heatmap(table, "map"),
    "robustness": lambda: figures.rem_figure(table, params.families, "map"),
    "attack_curves": lambda: figures.attack_curves(table, params.families, "map"),
}[snakemake.wildcards.figure]()
write_figure(figure, data, snakemake.output)
