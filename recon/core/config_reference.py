"""The config reference, generated from the pydantic models so it cannot drift from them.

``markdown()`` is docs/config.md (every key: type, default, meaning, example) and
``json_schema()`` is docs/recon-config.schema.json, the JSON Schema editors use for completion
(VS Code's YAML extension: ``# yaml-language-server: $schema=…`` at the top of a config).
``recon.io.config_file.write_config_reference`` writes both; a test checks they are current.
"""

from __future__ import annotations

import json
import typing
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from recon.core.config import LOADER_KEYS, Config

SCHEMA_ID = "https://github.com/recon/recon/docs/recon-config.schema.json"

HEADER = """# The config file

<!-- Generated from recon/core/config.py by `make docs`; tests/test_config_reference.py checks
     that it is current. Edit the models' descriptions, not this file. -->

One YAML file per HR source and target pair. Relative paths are resolved against the config
file's folder. Every key below is checked when the file is loaded: an unknown key is named with
its line and the key it probably meant, and every SCIM attribute path in `attributes:` and
`match:` is checked against the target's schema before any work.

Editors: `docs/recon-config.schema.json` is the JSON Schema of this file. With VS Code's YAML
extension, put `# yaml-language-server: $schema=<path to>/docs/recon-config.schema.json` on the
first line of a config (the bundled samples do) for completion and inline errors.

A complete, annotated example: `data/samples/recon.yaml`.
"""


def _models(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for argument in typing.get_args(annotation):
        found += _models(argument)
    return found


def _type_name(annotation: Any) -> str:
    if annotation is type(None):
        return "null"
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return " \\| ".join(json.dumps(a) for a in args)
    if origin in (list, tuple):
        return f"list of {_type_name(args[0])}" if args else "list"
    if origin is dict:
        return f"map of {_type_name(args[0])} → {_type_name(args[1])}" if args else "map"
    if args:  # a union
        return " \\| ".join(_type_name(a) for a in args if a is not type(None)) + (
            " (optional)" if type(None) in args else "")
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "section"
    return {"str": "text", "int": "integer", "float": "number", "bool": "boolean",
            "date": "date", "Path": "path"}.get(getattr(annotation, "__name__", ""),
                                                str(annotation))


def _default(field: FieldInfo) -> str:
    if field.is_required():
        return "**required**"
    if field.default_factory is not None:
        value: Any = field.default_factory()  # type: ignore[call-arg]
    else:
        value = field.default
    if isinstance(value, BaseModel):
        return "(section defaults)"
    if value is None or value == [] or value == {}:
        return "—"
    return f"`{json.dumps(value, default=str)}`"


def _example(field: FieldInfo) -> str:
    if not field.examples:
        return ""
    value = field.examples[0]
    return f"`{json.dumps(value, ensure_ascii=False)}`" if not isinstance(value, str) else (
        f"`{value}`")


def _fields(model: type[BaseModel]) -> list[tuple[str, FieldInfo]]:
    return [(name, field) for name, field in model.model_fields.items()
            if not (model is Config and name in LOADER_KEYS)]


def markdown() -> str:
    """docs/config.md: one table per section, in the order the sections appear."""
    parts = [HEADER]
    queue: list[tuple[str, type[BaseModel]]] = [("", Config)]
    seen: set[str] = set()
    while queue:
        prefix, model = queue.pop(0)
        if prefix in seen:
            continue
        seen.add(prefix)
        title = f"`{prefix}`" if prefix else "Top level"
        parts.append(f"\n## {title}\n\n{(model.__doc__ or '').strip()}\n")
        parts.append("| key | type | default | meaning | example |\n|---|---|---|---|---|")
        for name, field in _fields(model):
            key = f"{prefix}.{name}" if prefix else name
            meaning = (field.description or "").replace("|", "\\|").replace("\n", " ")
            example = _example(field).replace("|", "\\|")
            parts.append(f"| `{key}` | {_type_name(field.annotation)} | {_default(field)} | "
                         f"{meaning} | {example} |")
            for nested in _models(field.annotation):
                child = key + (".*" if typing.get_origin(field.annotation) is dict else "")
                child = key + "[]" if typing.get_origin(field.annotation) is list else child
                if nested is not Config:
                    queue.append((child, nested))
    return "\n".join(parts) + "\n"


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a config file (the loader's own keys left out)."""
    schema = Config.model_json_schema()
    for key in LOADER_KEYS:
        schema["properties"].pop(key, None)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = SCHEMA_ID
    schema["title"] = "recon config"
    return schema
