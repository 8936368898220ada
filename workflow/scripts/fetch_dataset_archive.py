"""Rule fetch_dataset_archive: one verified archive of a real dataset (downloaded or linked)."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from segrel.core.logs import log
from segrel.data.acquisition import obtain_archive

obtain_archive(snakemake.params.request, snakemake.output[0], log=log)
