"""Rule detection_annotations: the COCO-format boxes of a Cityscapes-layout dataset's split."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

from segrel.core.logs import log
from segrel.detect.annotations import write_coco_annotations

coco = write_coco_annotations(snakemake.params.root, snakemake.wildcards.split, snakemake.output[0])
log(f"{len(coco['images'])} images, {len(coco.get('annotations', []))} boxes")
