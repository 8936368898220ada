"""Rule plot_sample_size: PCC against the number of proxy images."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import pandas as pd

from segrel.analyse.figures import sample_size_figure
from segrel.core.figures import write_figure

figure, data = sample_size_figure(pd.read_csv(snakemake.input.table))
write_figure(figure, data, snakemake.output)
