"""The market core: a spatial, multi-period market equilibrium LP (DESIGN §4).

- :mod:`.inputs` — :class:`MarketInputs` (the data, validated) and :class:`MarketSettings`;
  :mod:`.schema` — table columns and keys; :mod:`.validate` — the checks;
- :mod:`.demand`, :mod:`.supply`, :mod:`.trade`, :mod:`.stages`, :mod:`.stocks` — the
  pieces of the LP, each with its math;
- :mod:`.builder` — assembles rows from frames; :mod:`.core` — :func:`build_market`,
  :func:`solve_market`; :mod:`.first_stage` — the families' hook and an example;
- :mod:`.results` — :class:`MarketResult` (prices, flows, shed, stocks, surpluses,
  welfare loss, marginal values); :mod:`.curves` — block arithmetic;
  :mod:`.testing` — tiny worlds for tests and examples;
- :mod:`.from_data` — a study on the shipped data -> :class:`MarketInputs`
  (:func:`study_market`, :func:`run_study_market`), with :mod:`.regions`,
  :mod:`.disruptions` and :mod:`.stocks_data`.
"""

from collections.abc import Sequence

from resilience.optimize.market.core import (
    EXPLANATIONS,
    Extension,
    MarketModel,
    build_market,
    solve_market,
)
from resilience.optimize.market.first_stage import prebuilt_stock
from resilience.optimize.market.from_data import (
    StudyMarket,
    StudyMarketResult,
    StudyMarketSettings,
    run_study_market,
    study_market,
)
from resilience.optimize.market.inputs import ALL, PARAMETER_COLUMNS, MarketInputs, MarketSettings
from resilience.optimize.market.results import (
    MarketResult,
    expected_loss,
    leak_free_share,
    welfare_loss,
)
from resilience.optimize.solve import SolverOptions

__all__ = [
    "ALL",
    "EXPLANATIONS",
    "PARAMETER_COLUMNS",
    "MarketInputs",
    "MarketModel",
    "MarketResult",
    "MarketSettings",
    "StudyMarket",
    "StudyMarketResult",
    "StudyMarketSettings",
    "build_market",
    "expected_loss",
    "leak_free_share",
    "prebuilt_stock",
    "run_market",
    "run_study_market",
    "solve_market",
    "study_market",
    "welfare_loss",
]


def run_market(
    inputs: MarketInputs,
    settings: MarketSettings | None = None,
    *,
    extensions: Sequence[Extension] = (),
    options: SolverOptions | None = None,
) -> MarketResult:
    """Build, solve and wrap: ``MarketResult(market, solve_market(market, options))``."""
    market = build_market(inputs, settings, extensions)
    return MarketResult(market, solve_market(market, options))
