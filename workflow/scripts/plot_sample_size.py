"""Rule plot_sample_size: PCC against the number of proxy images."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import pandas as pd  # noqa: E402

from segrel.figures import sample_size_figure, save  # noqa: E402
from segrel.io import atomic_file  # noqa: E402

figure, data = sample_size_figure(pd.read_csv(snakemake.input.table))
save(figure, snakemake.output.png, snakemake.output.pdf)
with atomic_file(snakemake.output.data) as handle:
    data.to_csv(handle, index=False)
