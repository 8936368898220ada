"""Rule plot_realism: each generated proxy's FID / KID to its real shift against its PCC."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import pandas as pd

from segrel.analyse.figures import realism_pcc_figure
from segrel.core.figures import write_figure

figure, data = realism_pcc_figure(pd.read_csv(snakemake.input.realism), pd.read_csv(snakemake.input.correlations),
                                  snakemake.params.metric)
write_figure(figure, data, snakemake.output)
