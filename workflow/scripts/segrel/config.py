"""Config validation against workflow/schemas/config.schema.yaml, with short messages; then each
stage's own cross-checks (``segrel.<stage>.checks``) and the test sets the generate and stress stages add.

Snakemake's own ``validate`` prints the whole failing sub-schema; a user who mistyped one key
needs one line naming that key and what is allowed there. Defaults declared in the schema are
filled in, as ``snakemake.utils.validate(set_default=True)`` does.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from jsonschema import Draft202012Validator, validators

from segrel.analyse import checks as analyse_checks
from segrel.calibrate import checks as calibrate_checks
from segrel.core.formats import FORMATS
from segrel.data import checks as data_checks
from segrel.detect import checks as detect_checks
from segrel.evaluate import checks as evaluate_checks
from segrel.generate import checks as generate_checks
from segrel.models import checks as models_checks
from segrel.stress import checks as stress_checks

#: each stage's cross-checks of the config (names that must point at other entries, ...)
STAGE_CHECKS = (evaluate_checks.config_problems, models_checks.config_problems, analyse_checks.config_problems,
                generate_checks.config_problems, data_checks.config_problems, calibrate_checks.config_problems,
                stress_checks.config_problems, detect_checks.config_problems)


class ConfigError(ValueError):
    """The configuration does not match the schema; the message lists every problem."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a mapping key given twice (PyYAML, and so Snakemake, keep
    the last one silently: a second ``fcn_r18:`` under ``models:`` would replace the first)."""

    def construct_mapping(self, node, deep=False):
        first_lines = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor`: its keys may be given again
                continue
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str) and key in first_lines:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (first at line {first_lines[key]}): keep one of them",
                    key_node.start_mark)
            first_lines.setdefault(key, key_node.start_mark.line + 1)
        return super().construct_mapping(node, deep)


def check_config_files(paths) -> None:
    """Each existing file of ``paths`` is YAML with every key once; a :class:`ConfigError` naming
    the file and the line otherwise (Snakemake's message for a YAML error names neither).

    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:
    ...     _ = f.write("models:\\n  a: {family: A}\\n  a: {family: B}\\n"); f.flush()
    ...     check_config_files([f.name])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    segrel.config.ConfigError: ....yaml, line 3: duplicate key 'a' (first at line 2): keep one of them
    >>> with tempfile.NamedTemporaryFile("w", suffix=".yaml") as f:  # a merge key's entries may be given again
    ...     _ = f.write("a: &a {family: A, base: x}\\nb: {<<: *a, family: B}\\n"); f.flush()
    ...     check_config_files([f.name])
    """
    problems = []
    for path in map(Path, paths):
        if not path.is_file():  # Snakemake names a missing file itself
            continue
        try:
            yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader)
        except yaml.MarkedYAMLError as error:
            mark = error.problem_mark
            what = error.problem if isinstance(error, yaml.constructor.ConstructorError) else (
                f"not valid YAML ({error.problem}); check the indentation, brackets and quotes up to here")
            problems.append(f"{path}, line {mark.line + 1}: {what}")
    if problems:
        raise ConfigError("\n".join(problems))


def _with_defaults(validator_class):
    validate_properties = validator_class.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, subschema in properties.items():
                if "default" in subschema and name not in instance:
                    instance[name] = _copy(subschema["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return validators.extend(validator_class, {"properties": set_defaults})


def _copy(value):
    # Defaults must not be shared between configs (nested defaults are filled in place).
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def _key(path) -> str:
    return ".".join(str(part) for part in path) or "(top level)"


def _describe(error) -> str:
    where = _key(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        prefix = f"{where}." if error.absolute_path else ""
        keys = ", ".join(f"'{prefix}{key}'" for key in unknown)
        hint = f"; allowed keys here: {', '.join(allowed)}" if allowed else ""
        return f"unknown config key {keys}{hint}"
    message = f"config key '{where}': {error.message}"
    description = error.schema.get("description") if isinstance(error.schema, dict) else None
    if error.validator in ("type", "enum", "minimum", "maximum", "minItems", "maxItems") and description:
        message += f" ({description.strip()})"
    return message


def validate_config(config: dict, schema_path: str | Path) -> dict:
    """Fill in defaults and check ``config`` in place; raise :class:`ConfigError` listing every problem.

    >>> import tempfile, os
    >>> schema = "type: object\\nadditionalProperties: false\\nproperties:\\n  cores: {type: integer, default: 2}\\n"
    >>> with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
    ...     _ = f.write(schema)
    >>> validate_config({}, f.name)
    {'cores': 2}
    >>> validate_config({"core": 2}, f.name)
    Traceback (most recent call last):
    ...
    segrel.config.ConfigError: unknown config key 'core'; allowed keys here: cores
    >>> os.unlink(f.name)
    """
    schema = yaml.safe_load(Path(schema_path).read_text())
    if "dataset" in schema.get("$defs", {}):  # the formats are the format records' (adding one is adding a record)
        schema["$defs"]["dataset"]["properties"]["format"]["enum"] = list(FORMATS)
    validator = _with_defaults(Draft202012Validator)(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: (list(map(str, e.absolute_path)), e.message))
    if errors:
        raise ConfigError("\n".join(dict.fromkeys(_describe(error) for error in errors)))
    models_checks.add_zoo_selection(config)
    generate_checks.add_test_sets(config)
    stress_checks.add_test_sets(config)  # after the generated ones: any test set can be corrupted
    detect_checks.add_datasets(config)  # the corrupted copies of detection-only sets (COCO)
    validator.validate(config)  # the defaults of the models, datasets and test sets added here
    problems = [problem for check in STAGE_CHECKS for problem in check(config)]
    if problems:
        raise ConfigError("\n".join(problems))
    return config
