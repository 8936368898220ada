import sys
from pathlib import Path

from snakemake.utils import min_version

min_version("9.0")

# The segrel library lives beside the rule scripts. It reads the config files first: Snakemake
# keeps the last of two equal keys silently and names no file or line for a YAML error.
sys.path.insert(0, str(Path(workflow.basedir) / "workflow" / "scripts"))
from segrel.config import check_config_files

DEFAULT_CONFIG = "config/config.yaml"
check_config_files(workflow.overwrite_configfiles or [DEFAULT_CONFIG])


# The demo is the default. A --configfile (config/paper.yaml, a test's) replaces it instead of
# being deep-merged into it, which would give the paper study the demo's models and test sets.
if not workflow.overwrite_configfiles:

    configfile: DEFAULT_CONFIG


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/models.smk"
include: "workflow/rules/generate.smk"
include: "workflow/rules/evaluate.smk"
include: "workflow/rules/models_outliers.smk"
include: "workflow/rules/analyse.smk"
include: "workflow/rules/calibrate.smk"
include: "workflow/rules/stress.smk"
include: "workflow/rules/detect.smk"


rule all:
    default_target: True
    input:
        get_final_output(),
