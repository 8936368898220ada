"""Stage "analyse" (workflow/rules/analyse.smk): correlations over models and their statistics,
and every figure of the study."""
