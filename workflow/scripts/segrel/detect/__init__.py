"""Stage "detect": DetecBench on segrel's workflow. Object detectors (mmdetection) as the models
stage resolves segmenters (zoo metafiles, demo training), COCO-format boxes of a Cityscapes-layout
dataset, mAP per (detector, test set, shard) from saved detections, attacks on the detector's
training loss, ReM and GAM."""
