"""Stage "evaluate" (workflow/rules/evaluate.smk): one forward pass per (model, image) feeding
every metric through streaming accumulators (metrics), shard states and the metrics table."""
