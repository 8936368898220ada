"""Rule detect_tables: COCO mAP per (detector, test set) from the merged detections; mAP per
corruption and per attack beside the clean mAP on the same images; ReM and GAM per detector."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from segrel.core.io import atomic_file
from segrel.core.logs import log
from segrel.detect.tables import detection_tables

params = snakemake.params
tables = detection_tables(params.shards, params.annotations, params.conditions)
for name, path in snakemake.output.items():  # attack_curves only where the config asks for them
    table = tables[name]
    with atomic_file(path) as handle:
        table.to_csv(handle, index=False)
    log(f"{name}:\n{table.to_string()}")
