"""SCIM attribute paths and value normalization.

A path is what the config's ``attributes:`` keys hold (RFC 7644 §3.5.2 ``attrPath`` /
``valuePath``): ``userName``, ``name.givenName``, ``emails[type eq "work"].value``,
``urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber``. Attribute names
are case-insensitive (RFC 7643 §2.1). Values compare after normalization: Unicode NFC, trimmed,
and case-folded for attributes that are not case-exact (``userName``, e-mail values).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]
import pyarrow.compute as pc  # type: ignore[import-untyped, unused-ignore]

from recon.adapters.snapshot import Snapshot

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"

_VALUE_FILTER = re.compile(
    r'^(?P<attr>[\w$-]+)\[(?P<sub>[\w$-]+)\s+eq\s+"(?P<value>[^"]*)"\](?:\.(?P<rest>[\w$-]+))?$',
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Path:
    """A parsed SCIM path: optional schema URN, attribute, value filter, sub-attribute."""

    schema: str | None
    attribute: str
    filter_attr: str | None = None
    filter_value: str | None = None
    sub: str | None = None

    @property
    def is_reference(self) -> bool:
        return self.schema == ENTERPRISE and self.attribute.lower() == "manager"


def parse_path(text: str) -> Path:
    schema: str | None = None
    rest = text.strip()
    if rest.lower().startswith("urn:"):
        schema, _, rest = rest.rpartition(":")
        if schema.lower() == CORE_USER.lower():
            schema = None
    if match := _VALUE_FILTER.match(rest):
        return Path(schema, match["attr"], match["sub"], match["value"], match["rest"])
    attribute, _, sub = rest.partition(".")
    return Path(schema, attribute, sub=sub or None)


def _get_ci(mapping: dict[str, Any], key: str) -> Any:
    if key in mapping:
        return mapping[key]
    lowered = key.lower()
    for name, value in mapping.items():
        if name.lower() == lowered:
            return value
    return None


def _container(resource: dict[str, Any], path: Path) -> Any:
    if path.schema is None:
        return resource
    return _get_ci(resource, path.schema)


def get_path(resource: dict[str, Any], text: str | Path) -> Any:
    """The value at a SCIM path, or None. ``manager`` yields the manager's id."""
    path = parse_path(text) if isinstance(text, str) else text
    container = _container(resource, path)
    if not isinstance(container, dict):
        return None
    value = _get_ci(container, path.attribute)
    if path.filter_attr is not None:
        if not isinstance(value, list):
            return None
        chosen = [
            item
            for item in value
            if isinstance(item, dict)
            and str(_get_ci(item, path.filter_attr)).lower() == (path.filter_value or "").lower()
        ]
        if not chosen:
            return None
        value = chosen[0]
    if path.sub is not None:
        return _get_ci(value, path.sub) if isinstance(value, dict) else None
    if path.is_reference and isinstance(value, dict):
        return _get_ci(value, "value")
    return value


def set_path(resource: dict[str, Any], text: str | Path, value: Any) -> None:
    """Write a value at a SCIM path, creating containers and the filtered item as needed."""
    path = parse_path(text) if isinstance(text, str) else text
    container: dict[str, Any] = resource
    if path.schema is not None:
        container = resource.setdefault(path.schema, {})
    if path.is_reference:
        container[path.attribute] = {"value": value}
        return
    if path.filter_attr is not None:
        items: list[dict[str, Any]] = container.setdefault(path.attribute, [])
        for item in items:
            if str(item.get(path.filter_attr, "")).lower() == (path.filter_value or "").lower():
                break
        else:
            item = {path.filter_attr: path.filter_value}
            if not items:
                item["primary"] = True
            items.append(item)
        item[path.sub or "value"] = value
        return
    if path.sub is not None:
        container.setdefault(path.attribute, {})[path.sub] = value
        return
    container[path.attribute] = value


def case_insensitive(text: str) -> bool:
    """userName and e-mail values are not case-exact (RFC 7643 §4.1.1, §4.1.2)."""
    path = parse_path(text)
    return path.attribute.lower() in {"username", "emails"}


def normalize_values(values: pd.Series, *, fold_case: bool) -> pd.Series:
    """NFC, trimmed, optionally lower-cased; empty strings become missing. Vectorized."""
    text = values.astype("string").str.normalize("NFC").str.strip()
    if fold_case:
        text = text.str.lower()
    return text.mask(text == "")


def is_in(values: pd.Series | pd.Index, candidates: Any) -> np.ndarray:
    """``values.isin(candidates)`` as a bool array, through pyarrow for pyarrow-backed strings.

    pandas 3 gives the same answer for those about 25× slower (it converts the result through
    Python objects); anything pyarrow will not compare takes the pandas path.
    """
    dtype = values.dtype
    if isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow":
        try:
            found = pc.is_in(pa.array(values.array),
                             value_set=pa.array(getattr(candidates, "array", candidates),
                                                from_pandas=True))
            return np.asarray(found.to_numpy(zero_copy_only=False), dtype=bool)
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            pass
    return np.asarray(values.isin(candidates), dtype=bool)


def parse_active(values: pd.Series) -> pd.Series:
    """SCIM ``active``: missing means active; booleans and the strings "True"/"False" accepted."""
    text = values.astype("string").str.strip().str.lower()
    return ~text.isin(["false", "0", "no"])


def current_frame(snapshot: Snapshot, paths: list[str]) -> pd.DataFrame:
    """One row per target account: target_id, etag, active and one column per SCIM path."""
    parsed = {text: parse_path(text) for text in dict.fromkeys(paths)}
    # Reading nested JSON is per resource by nature; everything after this is vectorized.
    records = [
        {
            "target_id": resource.get("id"),
            "etag": (resource.get("meta") or {}).get("version"),
            "active": resource.get("active"),
            **{text: get_path(resource, path) for text, path in parsed.items()},
        }
        for resource in snapshot.resources
    ]
    columns = ["target_id", "etag", "active", *parsed]
    frame = pd.DataFrame.from_records(records, columns=columns)
    for column in ["target_id", "etag", *parsed]:
        frame[column] = frame[column].astype("string")
    frame["active"] = parse_active(frame["active"])
    return frame
