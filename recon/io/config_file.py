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
        data = yaml.safe_load(raw.decode("utf-8"))
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
    )

