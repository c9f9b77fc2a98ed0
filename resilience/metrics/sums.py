"""Sums that come out the same on every run.

Polars aggregates groups in parallel and adds the partial sums of each group in whatever
order its threads finish, so a float sum can differ in its last bits from one run to the
next. :func:`stable_sum` sorts each group's values and accumulates them one by one
(``cum_sum().last()``; a plain ``sort().sum()`` is not enough: the optimiser drops a sort
before a sum): the same values are always added in the same order, and identical inputs
give bit-identical tables (what a report re-run's content hashes rely on). The sort costs
little on these table sizes.
"""

from __future__ import annotations

import polars as pl

__all__ = ["stable_sum"]


def stable_sum(expr: pl.Expr) -> pl.Expr:
    """``expr.sum()`` in a fixed order (nulls ignored and an empty sum 0, as by ``sum``)."""
    return expr.drop_nulls().sort().cum_sum().last().fill_null(0)
