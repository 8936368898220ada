"""Rule plot_inpainting_control: OOD detection on inpainted objects vs the control (Loiseau et al. Fig. 11)."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import pandas as pd  # noqa: E402

from segrel.figures import inpainting_control_figure, save  # noqa: E402
from segrel.io import atomic_file  # noqa: E402

figure, data = inpainting_control_figure(pd.read_csv(snakemake.input.metrics), snakemake.params.test_sets,
                                         snakemake.params.metrics)
save(figure, snakemake.output.png, snakemake.output.pdf)
with atomic_file(snakemake.output.data) as handle:
    data.to_csv(handle, index=False)
