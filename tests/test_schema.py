"""The config schema itself: every property is a well-formed sub-schema."""

from pathlib import Path

import yaml

SCHEMA = Path(__file__).resolve().parents[1] / "workflow" / "schemas" / "config.schema.yaml"
KEYWORDS = {"$ref", "description", "type", "default", "enum", "const", "properties", "additionalProperties",
            "required", "items", "minItems", "maxItems", "uniqueItems", "minimum", "maximum", "exclusiveMinimum",
            "exclusiveMaximum", "minLength", "pattern", "allOf", "anyOf", "oneOf", "if", "then", "else",
            "minProperties", "propertyNames", "multipleOf"}


def property_schemas(node, path=()):
    """(path, sub-schema) of every entry of every ``properties`` in the schema."""
    if isinstance(node, dict):
        for name, schema in node.get("properties", {}).items():
            yield (*path, name), schema
        for key, value in node.items():
            yield from property_schemas(value, (*path, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from property_schemas(value, (*path, index))


def test_every_property_uses_schema_keywords_only():
    """An unquoted description with a comma inside a flow mapping ({description: a, b}) is split
    by YAML into a cut description and a stray key: it shows up here as an unknown keyword."""
    schema = yaml.safe_load(SCHEMA.read_text())
    problems = [f"{'.'.join(map(str, path))}: {sorted(set(sub) - KEYWORDS)}"
                for path, sub in property_schemas(schema) if isinstance(sub, dict) and set(sub) - KEYWORDS]
    assert not problems, problems


def test_excluded_classes_are_the_evaluated_classes():
    from segrel.core.labels import CLASS_NAMES

    schema = yaml.safe_load(SCHEMA.read_text())
    test_set = schema["properties"]["test_sets"]["additionalProperties"]
    assert tuple(test_set["properties"]["excluded_classes"]["items"]["enum"]) == CLASS_NAMES
