r"""The calm reference of a run, solved once per process and shared by every run using it.

Every family run compares its market against the **calm reference**: the same world with
no disruption and no policy (:meth:`MarketInputs.without_disruption`, one scenario
``"base"``), built and solved by :func:`~resilience.optimize.market.core.build_market` and
:func:`~resilience.optimize.market.core.solve_market`. The runs of one study
(``resilience run STUDY --all``: the base case and each scenario, with and without its
policies) mostly share that reference: it depends only on the study's market (regions,
balances, arcs, stocks, parameters) and not on the scenario's events, unless the run
changes the market itself (an override of a market parameter such as ``spot_premium``,
or an event that forces a node into the regions). On the flagship it is an LP of about
10 k rows and 200 k columns that HiGHS takes 10-15 s to solve, a third of each run.

:func:`calm_reference` is the one owner of that reuse. It keys a small in-process cache
on the **content** of the calm inputs (every table, written as Arrow IPC and hashed with
BLAKE2b, and the horizon), the block settings and the solver options, so a run whose
market differs in any number gets its own reference; a hit returns the very
:class:`~resilience.optimize.market.results.MarketResult` an earlier run solved, which is
what a fresh solve of the same LP would give (HiGHS is deterministic on the same input;
``tests/unit/test_run_cache.py`` checks a study's tables bit for bit with and without
the cache). The cache lives in the process: ``run --all`` with worker processes solves
the reference once per worker. It holds at most :data:`MAX_ENTRIES` references (each a
built Pyomo model and its solution, a few hundred MB on the flagship) and is emptied by
:func:`clear_calm_cache`; :func:`calm_cache_info` says how often it was used.

A cached reference was proven optimal when it was solved (``solve_market`` raises
otherwise), so a run that reuses it records no further solve status.
"""

from __future__ import annotations

import hashlib
import io
import logging
import threading
from collections import OrderedDict
from dataclasses import astuple, dataclass

from resilience.optimize.market.core import build_market, solve_market
from resilience.optimize.market.inputs import MarketInputs, MarketSettings
from resilience.optimize.market.results import MarketResult
from resilience.optimize.market.schema import SCHEMAS
from resilience.optimize.solve import SolverOptions

__all__ = ["MAX_ENTRIES", "CalmCacheInfo", "calm_cache_info", "calm_reference", "clear_calm_cache"]

log = logging.getLogger(__name__)

#: References kept per process (least recently used dropped first).
MAX_ENTRIES = 2

_lock = threading.Lock()
_cache: OrderedDict[str, MarketResult] = OrderedDict()
_counts = {"hits": 0, "misses": 0}


@dataclass(frozen=True)
class CalmCacheInfo:
    """How the calm-reference cache of this process was used."""

    hits: int
    misses: int
    entries: int


def _key(inputs: MarketInputs, settings: MarketSettings, options: SolverOptions | None) -> str:
    """A digest of everything the calm LP and its solve depend on."""
    digest = hashlib.blake2b(digest_size=32)
    for table in ("parameters", *SCHEMAS):
        frame = getattr(inputs, table)
        buffer = io.BytesIO()
        frame.write_ipc(buffer, compression="uncompressed")
        digest.update(table.encode())
        digest.update(buffer.getvalue())
    digest.update(repr(inputs.months).encode())
    digest.update(repr(astuple(settings)).encode())
    if options is not None:
        digest.update(repr(sorted(options.highs_options().items(), key=str)).encode())
        digest.update(repr(options.log_to).encode())
    return digest.hexdigest()


def calm_reference(
    inputs: MarketInputs,
    settings: MarketSettings,
    options: SolverOptions | None = None,
) -> MarketResult:
    """The solved calm reference of ``inputs`` (no disruption, no policy), cached (module doc).

    Parameters
    ----------
    inputs
        The run's market; its scenarios and availability are dropped
        (:meth:`MarketInputs.without_disruption`).
    settings
        Block counts and horizon of the LP.
    options
        Solver options (part of the key).

    Raises
    ------
    resilience.optimize.solve.OptimizationError
        As :func:`~resilience.optimize.market.core.solve_market` (nothing is cached then).
    """
    calm = inputs.without_disruption()
    key = _key(calm, settings, options)
    with _lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            _counts["hits"] += 1
            log.debug("calm reference %s… reused", key[:12])
            return hit
    model = build_market(calm, settings)
    result = MarketResult(model, solve_market(model, options))
    with _lock:
        _counts["misses"] += 1
        _cache[key] = result
        _cache.move_to_end(key)
        while len(_cache) > MAX_ENTRIES:
            _cache.popitem(last=False)
    log.debug("calm reference %s… solved and kept", key[:12])
    return result


def clear_calm_cache() -> None:
    """Drop every cached reference and reset the counts."""
    with _lock:
        _cache.clear()
        _counts.update(hits=0, misses=0)


def calm_cache_info() -> CalmCacheInfo:
    """Hits, misses and entries of this process's cache."""
    with _lock:
        return CalmCacheInfo(_counts["hits"], _counts["misses"], len(_cache))
