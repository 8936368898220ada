"""Rule inpainting_detections: per object, samples generated, detected, failed and curated."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from segrel.inpainting import detection_table, read_samples  # noqa: E402
from segrel.io import atomic_file  # noqa: E402

table = detection_table({"objects": read_samples(snakemake.input.objects),
                         "control": read_samples(snakemake.input.control)},
                        curated={"objects": snakemake.params.curated})
with atomic_file(snakemake.output[0]) as handle:
    table.to_csv(handle, index=False)
print(table.groupby("set")[["generated", "detected", "failed"]].sum().to_string(), file=sys.stderr)
