"""Rule curation_page: the inpainted samples with checkboxes, writing the curated id list."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from pathlib import Path

from segrel.core.io import atomic_directory
from segrel.core.logs import log
from segrel.generate.curation import write_curation_page

page = Path(snakemake.output.page)
with atomic_directory(page.parent) as out:
    samples = write_curation_page(out, snakemake.input.shards, snakemake.params.curated,
                                  size=snakemake.params.thumbnail_size)
log(f"{len(samples)} samples, {len(snakemake.params.curated)} curated: open {page}")
