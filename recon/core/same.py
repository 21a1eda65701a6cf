"""The one rule for "is this the same value?", in a scalar and a vectorised form.

classify ("in sync"), push ("already applied", and the preconditions that make an op stale),
verify ("converged") and the Entra adapter all compare a desired value with a target's value
here, so they can never disagree.

=====================  ==============================================================
case                   rule
=====================  ==============================================================
white space            trimmed at both ends (inner white space is kept)
Unicode normal forms   NFC: a decomposed "é" (e + U+0301) equals the composed "é"
case                   significant, except for ``userName`` and e-mail values (RFC 7643
                       §4.1.1, §4.1.2: not case-exact), which are lower-cased
empty vs absent        an empty or blank string is absent (None), as Entra treats it
booleans               ``active`` reads leniently: absent is true; "False"/"0"/"no"
                       (any case) are false; any other value is true
references             a reference ``{"value": id}`` compares by its id
multi-valued           compared per item, addressed by a value filter
                       (``emails[type eq "work"].value``), never as a whole list
=====================  ==============================================================

``normalize_values`` (recon.core.normalize) is the vectorised form of ``normalized`` for text
columns; a property test holds the two to the same answers.
"""

from __future__ import annotations

import unicodedata
from typing import Any

import pandas as pd

from recon.core.normalize import normalize_values, parse_active
from recon.core.scim import case_insensitive, is_active, parse_path


def is_active_path(path: str) -> bool:
    """The core ``active`` attribute (not an extension's attribute of that name)."""
    parsed = parse_path(path)
    return parsed.attribute.lower() == "active" and parsed.schema is None


def missing(value: Any) -> bool:
    """None, pd.NA or NaN: a cell that holds no value."""
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


def normalized(path: str, value: Any) -> str | None:
    """One value as every comparison sees it (see the table above); None when absent."""
    if is_active_path(path):
        return "true" if is_active(None if missing(value) else value) else "false"
    if isinstance(value, dict):
        value = value.get("value")
    if missing(value):
        return None
    if isinstance(value, bool):
        return str(value).lower()
    text = unicodedata.normalize("NFC", str(value)).strip()
    if case_insensitive(path):
        text = text.lower()
    return text or None


def same(path: str, left: Any, right: Any) -> bool:
    """Whether two values of the attribute at ``path`` are the same value."""
    return normalized(path, left) == normalized(path, right)


def normalized_column(path: str, values: pd.Series) -> pd.Series:
    """``normalized`` over a column of the attribute at ``path``, vectorised."""
    if is_active_path(path):
        return parse_active(values).map({True: "true", False: "false"}).astype("string")
    return normalize_values(values, fold_case=case_insensitive(path))
