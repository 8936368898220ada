"""Stage "stress" (started): common corruptions of test images and the robustness aggregates of
SemSegBench (GAM) and XImageNet-12 (S_robust). ``corrupt``, ``gam`` and ``s_robust`` are the
public API; they are imported on first use (the config checks must not import numpy-heavy
corruption code into every Snakemake parse)."""

__all__ = ["corrupt", "gam", "s_robust"]


def __getattr__(name):
    if name == "corrupt":
        from segrel.stress.corruptions import corrupt

        return corrupt
    if name in ("gam", "s_robust"):
        from segrel.stress import aggregates

        return getattr(aggregates, name)
    raise AttributeError(f"module 'segrel.stress' has no attribute {name!r}")
