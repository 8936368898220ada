"""Rule realism: FID and KID of each pair of image sets (a generated set and its real target, or
the real images of its label maps), each set's features computed once."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import pandas as pd

from segrel.analyse.realism import RealismSettings, distances, feature_extractor, set_features
from segrel.core import formats
from segrel.core.devices import resolve_device
from segrel.core.io import atomic_file
from segrel.core.logs import log

params = snakemake.params
settings = RealismSettings.from_params(params.settings)
model = feature_extractor(settings, resolve_device(params.device))
features = {}
for name, spec in params.sets.items():
    samples = formats.list_samples(spec["format"], spec["root"], spec["split"], spec["subset"])
    features[name] = set_features(model, samples, settings.batch_size)
    log(f"{name}: {len(samples)} images, {features[name].shape[1]} features")
rows = [{**pair, "images": len(features[pair["test_set"]]), "against_images": len(features[pair["against"]]),
         **distances(features[pair["against"]], features[pair["test_set"]], settings),
         "features": settings.describe()} for pair in params.pairs]
table = pd.DataFrame(rows)
with atomic_file(snakemake.output[0]) as handle:
    table.to_csv(handle, index=False)
log(table.to_string())
