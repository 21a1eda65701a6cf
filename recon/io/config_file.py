"""The YAML config file: read, parsed and validated (``recon.core.config`` holds the models)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import yaml

from recon.core.config import Config, parse_config
from recon.errors import ConfigError


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate a YAML config; raise ConfigError with one clear line on any problem."""
    config_path = Path(path)
    try:
        raw = config_path.read_bytes()
    except OSError as error:
        raise ConfigError(f"{config_path}: cannot read config ({error.strerror})") from error
    try:
        text = raw.decode("utf-8")
        data = yaml.safe_load(text)
        lines = key_lines(yaml.compose(text))
    except (yaml.YAMLError, UnicodeDecodeError) as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(f"{config_path}: not valid YAML{where}: {problem}") from error
    return parse_config(
        data,
        base_dir=config_path.resolve().parent,
        name=str(config_path),
        digest=hashlib.sha256(raw).hexdigest(),
        key_lines=lines,
    )


def key_lines(node: yaml.Node | None, prefix: str = "") -> dict[str, int]:
    """Dotted key → 1-based line of every mapping key in a composed YAML document (list items
    as their index: ``match.1.target``), so that errors can name the line."""
    found: dict[str, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            name = f"{prefix}{key.value}"
            found[name] = key.start_mark.line + 1
            found.update(key_lines(value, name + "."))
    elif isinstance(node, yaml.SequenceNode):
        for number, item in enumerate(node.value):
            name = f"{prefix}{number}"
            found[name] = item.start_mark.line + 1
            found.update(key_lines(item, name + "."))
    return found



def write_config_reference(folder: Path) -> list[Path]:
    """docs/config.md and docs/recon-config.schema.json, generated from the models."""
    import json

    from recon.core.config_reference import json_schema, markdown

    markdown_file, schema_file = folder / "config.md", folder / "recon-config.schema.json"
    markdown_file.write_text(markdown(), encoding="utf-8")
    schema_file.write_text(json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n",
                           encoding="utf-8")
    return [markdown_file, schema_file]
