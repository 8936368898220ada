"""Stage "stress": common corruptions of test images, adversarial attacks on the models, and the
robustness aggregates of SemSegBench (GAM, ReM) and XImageNet-12 (S_robust). ``corrupt``,
``attack``, ``gam``, ``rem`` and ``s_robust`` are the public API; they are imported on first use
(the config checks must not import numpy- and torch-heavy code into every Snakemake parse)."""

__all__ = ["attack", "corrupt", "gam", "rem", "s_robust"]


def __getattr__(name):
    if name == "corrupt":
        from segrel.stress.corruptions import corrupt

        return corrupt
    if name in ("attack", "rem"):
        from segrel.stress import attacks

        return getattr(attacks, name)
    if name in ("gam", "s_robust"):
        from segrel.stress import aggregates

        return getattr(aggregates, name)
    raise AttributeError(f"module 'segrel.stress' has no attribute {name!r}")
