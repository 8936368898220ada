"""Check a config file as the workflow does, before Snakemake reads it.

    python tools/check_config.py config/paper.yaml

Snakemake reads a ``--configfile`` before the workflow's own checks run: for a YAML error it
says only "Config file is not valid JSON or YAML", and a missing file is a long traceback. This
names the file, the line and the key (duplicate keys, YAML errors), then every config problem
the workflow would report (schema, cross-checks). Exit status 1 if there is any.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml
from snakemake.utils import update_config

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow" / "scripts"))

from segrel.config import ConfigError, check_config_files, validate_config  # noqa: E402

SCHEMA = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml"


def main(paths: list[str]) -> int:
    missing = [path for path in paths if not Path(path).is_file()]
    if missing or not paths:
        print(f"no config file {', '.join(missing)}" if missing else __doc__.strip(), file=sys.stderr)
        return 1
    try:
        check_config_files(paths)
        config = {}
        for path in paths:  # merged as Snakemake merges several --configfile
            update_config(config, yaml.safe_load(Path(path).read_text()) or {})
        validate_config(config, SCHEMA)
    except ConfigError as error:
        print(error, file=sys.stderr)
        return 1
    print(f"{', '.join(paths)}: no problems found")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
