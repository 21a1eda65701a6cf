"""docs/config.md and the JSON Schema are generated from the config models: they cannot drift."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from recon.core.config import LOADER_KEYS, Config
from recon.core.config_reference import json_schema, markdown

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def test_the_committed_reference_is_the_generated_one() -> None:
    assert (DOCS / "config.md").read_text(encoding="utf-8") == markdown(), "run: make docs"
    committed = json.loads((DOCS / "recon-config.schema.json").read_text(encoding="utf-8"))
    assert committed == json_schema(), "run: make docs"


def test_every_key_has_a_meaning() -> None:
    """A newcomer reads every key in docs/config.md; none may be blank."""
    from pydantic import BaseModel

    seen: set[type[BaseModel]] = set()
    queue: list[type[BaseModel]] = [Config]
    blank = []
    while queue:
        model = queue.pop()
        if model in seen:
            continue
        seen.add(model)
        for name, field in model.model_fields.items():
            if model is Config and name in LOADER_KEYS:
                continue
            if not field.description:
                blank.append(f"{model.__name__}.{name}")
            from recon.core.config_reference import _models

            queue += _models(field.annotation)
    assert not blank, f"fields without a description: {blank}"


@pytest.mark.parametrize("name", ["recon.yaml", "recon-file.yaml", "recon-live.yaml",
                                  "entra-inbound.yaml"])
def test_the_samples_validate_against_the_schema_editors_use(name: str) -> None:
    data = as_editors_read(ROOT / "data" / "samples" / name)
    jsonschema.validate(data, json_schema())


def as_editors_read(path: Path) -> object:
    """YAML as an editor's JSON Schema validator sees it: dates are strings."""
    return json.loads(json.dumps(yaml.safe_load(path.read_text(encoding="utf-8")), default=str))


def test_the_schema_refuses_an_unknown_key_as_editors_will_show_it() -> None:
    data = as_editors_read(ROOT / "data" / "samples" / "recon.yaml")
    assert isinstance(data, dict)
    data["atributes"] = data.pop("attributes")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, json_schema())
