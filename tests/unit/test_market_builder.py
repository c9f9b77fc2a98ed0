"""The market builder refuses what it cannot build, naming the family and keys."""

from __future__ import annotations

import polars as pl
import pytest

from resilience.optimize.lp import ModelBuildError
from resilience.optimize.market import MarketSettings, build_market
from resilience.optimize.market.builder import MarketBuilder
from resilience.optimize.market.testing import GOOD, world


def rows(keys: list[str]) -> pl.DataFrame:
    return pl.DataFrame({"k": keys, "lb": [0.0] * len(keys), "ub": [1.0] * len(keys)})


def test_families_need_an_explanation_and_a_single_declaration() -> None:
    b = MarketBuilder()
    with pytest.raises(ModelBuildError, match="needs an explanation"):
        b.add_rows("cap", rows(["a"]), ["k"], "  ")
    with pytest.raises(ModelBuildError, match=r"names \['node'\], not row keys"):
        b.add_rows("cap", rows(["a"]), ["k"], "row {k} at {node}")
    b.add_rows("cap", rows(["a"]), ["k"], "row {k}")
    with pytest.raises(ModelBuildError, match="declared twice"):
        b.add_rows("cap", rows(["a"]), ["k"], "row {k}")
    with pytest.raises(ModelBuildError, match="undeclared constraint family 'nope'"):
        b.add_terms("nope", None, pl.DataFrame(), ["k"])


def test_terms_for_unknown_rows_or_variables_are_named() -> None:
    b = MarketBuilder()
    x = b.add_variables("x", pl.DataFrame({"v": ["p", "q"], "cap": [1.0, 2.0]}), ["v"], ub="cap")
    b.add_rows("cap", rows(["a"]), ["k"], "row {k}")
    b.add_terms("cap", x, pl.DataFrame({"k": ["zz"], "v": ["p"], "coef": [1.0]}), ["v"])
    with pytest.raises(ModelBuildError, match="unknown rows"):
        b.finish()
    b = MarketBuilder()
    x = b.add_variables("x", pl.DataFrame({"v": ["p"]}), ["v"])
    b.add_rows("cap", rows(["a"]), ["k"], "row {k}")
    b.add_terms("cap", x, pl.DataFrame({"k": ["a"], "v": ["r"], "coef": [1.0]}), ["v"])
    with pytest.raises(ModelBuildError, match="no variable 'x'"):
        b.finish()


def test_a_built_model_cannot_be_extended_and_settings_must_match_the_horizon() -> None:
    b = MarketBuilder()
    x = b.add_variables("x", pl.DataFrame({"v": ["p"]}), ["v"])
    b.add_objective(x, pl.DataFrame({"v": ["p"], "coef": [-1.0]}), ["v"])
    b.finish()
    with pytest.raises(ModelBuildError, match="already built"):
        b.add_variables("y", pl.DataFrame({"v": ["p"]}), ["v"])
    w = world({("M", GOOD): 1.0}, {("S", GOOD): 1.0}, {("S", "M", GOOD): 1.0}, months=2)
    with pytest.raises(ValueError, match="settings.months"):
        build_market(w, MarketSettings(months=3))
