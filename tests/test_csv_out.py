"""write_csv writes exactly the bytes of DataFrame.to_csv, fast path or not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recon.io.csv_out import _render_columns, write_csv

ODD = ["plain", "a,b", 'say "hi"', "line\nbreak", "carriage\rreturn", "crlf\r\nend", " lead",
       "trail ", "tab\there", "", None, '"', "Zoë", "a;b", "\u2028", "nul\x00"]


def text(values: list[str | None]) -> pd.arrays.ArrowStringArray:
    return pd.array(values, dtype="string")  # type: ignore[return-value]


def frames() -> dict[str, tuple[pd.DataFrame, bool]]:
    n = len(ODD)
    base = pd.DataFrame({
        "category": text(ODD),
        "hr_row": pd.array([None if i % 3 == 0 else 10 ** i for i in range(n)], dtype="Int64"),
        "quoted, name": text(list(reversed(ODD))),
        "plain": np.arange(n, dtype=np.int64),
    })
    invalid = base[["category", "quoted, name"]].set_index(pd.Index(np.arange(n) + 1,
                                                                    name="hr_row"))
    return {
        "strings, Int64 and int64": (base, False),
        "named index": (invalid, True),
        "unnamed index": (base.reset_index(drop=True), True),
        "sliced": (base.iloc[3:11], False),
        "several chunks": (pd.concat([base, base.iloc[::-1]]), False),
        "no rows": (base.iloc[:0], False),
        "all missing": (pd.DataFrame({"a": text([None, None]), "b": text([None, None])}), False),
        "one column (to_csv)": (base[["category"]], False),
        "booleans (to_csv)": (base.assign(flag=np.arange(n) % 2 == 0), False),
        "floats (to_csv)": (base.assign(score=np.linspace(0, 1, n)), False),
        "str (NaN for missing)": (base.assign(obj=np.array(ODD, dtype=object)), False),
        "objects (to_csv)": (base.assign(obj=pd.Series([1, "a", None] * 5 + [2.5],
                                                         dtype=object)), False),
    }


FRAMES = frames()


@pytest.mark.parametrize("name", FRAMES)
def test_write_csv_writes_what_to_csv_writes(tmp_path: Path, name: str) -> None:
    frame, index = FRAMES[name]
    frame.to_csv(tmp_path / "pandas.csv", index=index)
    write_csv(frame, tmp_path / "fast.csv", index=index)
    assert (tmp_path / "fast.csv").read_bytes() == (tmp_path / "pandas.csv").read_bytes()
    rendered = _render_columns(frame, index) is not None
    assert rendered == ("(to_csv)" not in name)
