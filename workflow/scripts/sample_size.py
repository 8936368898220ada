"""Rule sample_size: PCC between proxy mIoU on random subsets of proxy images and the real
shift's mIoU, per subset size (Loiseau et al. Fig. 5)."""

import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)

import pandas as pd

from segrel.analyse.statistics import pcc_vs_sample_size
from segrel.core.io import atomic_file
from segrel.core.labels import train_ids
from segrel.core.logs import log
from segrel.evaluate.evaluation import load_merged
from segrel.evaluate.metrics_table import read_metrics

metrics = read_metrics(snakemake.input.metrics)
miou = metrics[metrics.measure == "miou"].set_index(["test_set", "model"]).value
shards = snakemake.params.shards


def image_confusions(proxy: str) -> dict:
    """{model: per-image confusions} of one proxy test set, the same images for every model."""
    states = {model: load_merged(paths) for (model, test_set), paths in shards.items() if test_set == proxy}
    if len({tuple(state.image_names) for state in states.values()}) != 1:
        raise ValueError(f"models were evaluated on different images of {proxy}: re-run its evaluation "
                         f"(snakemake --forcerun evaluate_shard) so that every model sees the same images")
    return {model: state.image_confusion_array() for model, state in states.items()}


confusions = {proxy: image_confusions(proxy) for proxy in sorted({p for c in snakemake.params.comparisons.values()
                                                                    for p in c["proxies"]})}
tables = []
for name, comparison in snakemake.params.comparisons.items():
    for proxy in comparison["proxies"]:
        confusion = confusions[proxy]  # loaded once per proxy, shared by the comparisons using it
        real = miou[comparison["real"]].to_dict()
        try:
            table = pcc_vs_sample_size(confusion, real, snakemake.params.sizes, snakemake.params.repeats,
                                       snakemake.params.seed,
                                       excluded=train_ids(snakemake.params.excluded_classes.get(proxy, [])))
        except ValueError as error:
            raise ValueError(f"comparison {name}, proxy {proxy}: {error}") from None
        tables.append(table.assign(comparison=name, proxy=proxy, real=comparison["real"]))
        log(f"{name} / {proxy}: {len(table)} subsets")
table = pd.concat(tables, ignore_index=True)[["comparison", "proxy", "real", "size", "repeat", "pearson_r"]]
with atomic_file(snakemake.output[0]) as handle:
    table.to_csv(handle, index=False)
