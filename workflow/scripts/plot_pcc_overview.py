"""Rule plot_pcc_overview: every comparison's PCC per proxy, sorted (Loiseau et al. Fig. 3 top)."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import pandas as pd

from segrel.analyse.figures import pcc_overview_figure
from segrel.core.figures import write_figure

figure, data = pcc_overview_figure(pd.read_csv(snakemake.input.correlations), snakemake.params.metric)
write_figure(figure, data, snakemake.output)
