"""Rule prepare_dataset: a real dataset's archives extracted and checked into its layout."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from segrel.core.logs import log
from segrel.data.acquisition import prepare_dataset

prepare_dataset(snakemake.params.format, list(snakemake.input.archives), snakemake.output[0],
                replaceable=snakemake.params.replaceable, log=log)
