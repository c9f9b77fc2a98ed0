"""Keys of LP variables and rows: checked, listed, and held with shared objects.

:func:`check_keys` refuses missing, null and duplicate keys with a
:class:`ModelBuildError` naming them; :func:`key_list` gives the row keys as
``frame.rows()`` would, with equal values sharing one Python object
(:func:`shared_list`), which is most of the memory of the index tuples.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

from resilience.errors import ResilienceError

__all__ = [
    "MAX_LISTED",
    "ModelBuildError",
    "check_keys",
    "fmt_keys",
    "key_list",
    "shared_list",
]

#: keys listed in an error before "... and N more"
MAX_LISTED = 10


class ModelBuildError(ResilienceError, ValueError):
    """Model data could not be turned into variables or constraints (message says where)."""


def shared_list(col: pl.Series) -> list[Any]:
    """``col.to_list()``, equal strings or integers sharing one Python object.

    Key columns repeat a few names (scenarios, members, commodities) over up to millions
    of rows; one object per distinct value instead of one per row saves most of the
    memory of the index tuples (210 MB -> 53 MB for 600 000 keys of five strings).
    """
    if (
        col.len() < 1000
        or col.null_count()
        or not (col.dtype == pl.String or col.dtype.is_integer())
    ):
        return col.to_list()
    if col.dtype.is_integer() and col.min() >= -5 and col.max() <= 256:  # type: ignore[operator]
        return col.to_list()  # CPython keeps one object per small int already
    uniq = col.unique(maintain_order=True)
    if uniq.len() * 4 > col.len():
        return col.to_list()
    if col.dtype == pl.String:  # the codes of an Enum of the distinct values
        codes = col.cast(pl.Enum(uniq.to_list())).to_physical()
    else:
        codes = (
            col.to_frame("v")
            .join(uniq.to_frame("v").with_row_index("c"), on="v", how="left", maintain_order="left")
            .get_column("c")
        )
    return list(map(uniq.to_list().__getitem__, codes.to_numpy().tolist()))


def key_list(frame: pl.DataFrame, keys: Sequence[str]) -> list[Any]:
    """Row keys (scalars for one column, tuples otherwise), as ``frame.rows()`` gives them."""
    if len(keys) == 1:
        return shared_list(frame.get_column(keys[0]))
    return list(zip(*(shared_list(frame.get_column(k)) for k in keys), strict=True))


def fmt_keys(frame: pl.DataFrame, keys: Sequence[str]) -> str:
    """The first keys of ``frame`` for an error message."""
    shown = key_list(frame.head(MAX_LISTED), keys)
    more = frame.height - len(shown)
    return ", ".join(map(repr, shown)) + (f" ... and {more} more" if more > 0 else "")


def check_keys(frame: pl.DataFrame, keys: Sequence[str], what: str) -> None:
    """Refuse missing key columns, null keys and duplicate keys of ``what``."""
    missing = [k for k in keys if k not in frame.columns]
    if missing:
        raise ModelBuildError(f"{what}: key column(s) {missing} not in {frame.columns}")
    nulls = frame.filter(pl.any_horizontal(pl.col(k).is_null() for k in keys))
    if nulls.height:
        raise ModelBuildError(f"{what}: missing key values in {nulls.height} row(s)")
    if not frame.select(keys).is_duplicated().any():
        return
    dups = frame.filter(pl.struct(keys).is_duplicated()).unique(keys, maintain_order=True)
    if dups.height:
        raise ModelBuildError(f"{what}: duplicate keys {fmt_keys(dups, keys)}")
