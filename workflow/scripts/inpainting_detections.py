"""Rule inpainting_detections: per object, samples generated, detected, failed and curated."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from segrel.core.io import atomic_file
from segrel.core.logs import log
from segrel.generate.inpainting import detection_table, read_samples

table = detection_table({"objects": read_samples(snakemake.input.objects),
                         "control": read_samples(snakemake.input.control)},
                        curated={"objects": snakemake.params.curated})
with atomic_file(snakemake.output[0]) as handle:
    table.to_csv(handle, index=False)
log(table.groupby("set")[["generated", "detected", "failed"]].sum().to_string())
