"""Rule demo_dataset: write one embedded demo dataset in its real dataset's layout."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from segrel.core.formats import dataset_format
from segrel.core.logs import log
from segrel.data.demo import writers

fmt = dataset_format(snakemake.params.format)
settings = dict(snakemake.params.settings)
log(f"generating demo {fmt.name} dataset into {snakemake.output[0]}: {settings}")
getattr(writers, fmt.demo_writer)(snakemake.output[0], **settings)
log("done")
