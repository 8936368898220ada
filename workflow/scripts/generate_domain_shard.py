"""Rule generate_domain_shard: one shard of a synthetic domain in Cityscapes layout."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import pandas as pd  # noqa: E402
from tqdm import tqdm  # noqa: E402

from segrel import configure_torch, datasets, resolve_device  # noqa: E402
from segrel.evaluate import shard_samples  # noqa: E402
from segrel.generation import domain_items, load_pipeline, write_domain_shard  # noqa: E402
from segrel.io import atomic_directory  # noqa: E402

configure_torch(snakemake.threads)
spec, settings = snakemake.params.dataset, snakemake.params.settings
device = resolve_device(settings["device"])
captions = pd.read_csv(snakemake.input.captions, keep_default_na=False).set_index("image").caption
samples = sorted(datasets.list_samples(spec["format"], spec["root"], spec["split"]), key=lambda s: s.name)
items = shard_samples(domain_items(samples, settings["images"]), int(snakemake.wildcards.shard),
                      int(snakemake.wildcards.shards))
print(f"domain {snakemake.wildcards.domain} ('{snakemake.params.text}'): {len(items)} images on {device}",
      file=sys.stderr)
pipeline = load_pipeline(snakemake.params.base, snakemake.input.controlnet, device)
with atomic_directory(snakemake.output[0]) as out:
    write_domain_shard(out, pipeline, items, captions, snakemake.params.text,
                       resolution=snakemake.params.resolution, seed=settings["seed"], steps=settings["steps"],
                       guidance=settings["guidance"], eta=settings["eta"], batch_size=settings["batch_size"],
                       progress=lambda batches: tqdm(batches, file=sys.stderr, mininterval=5, ascii=True))
