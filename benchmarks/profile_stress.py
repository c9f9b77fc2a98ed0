"""What the smaller build-path optimisations buy, each timed alone in one warm process.

``ablate_stress.py`` switches optimisations off in fresh processes; on this shared VM the
HiGHS solve varies by a second or two between processes, more than some optimisations
save. This script builds the stress model once and then times, interleaved (medians of
``--repeat`` runs), just the step each optimisation changes, with it and without it,
plus the Python memory that step leaves behind (``tracemalloc``, one separate run):

    python benchmarks/profile_stress.py --size 1M --repeat 7
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyomo.environ as pyo
from pyomo.common.gc_manager import PauseGC
from pyomo.core.expr.numeric_expr import MonomialTermExpression

import resilience.optimize.compile as compile_mod
import resilience.optimize.lp as lp_mod
import resilience.optimize.recourse as recourse_mod
from resilience.optimize.recourse import WPAIR
from resilience.optimize.solve import SolverOptions, solve
from resilience.optimize.stress import build_stress

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import stress_world as sw  # noqa: E402


def _monomials(coefs: Any, cols: Any, variables: Any) -> list[Any]:
    chosen = map(variables.__getitem__, cols.tolist())
    return list(map(MonomialTermExpression, zip(coefs.tolist(), chosen, strict=True)))


@contextlib.contextmanager
def patched(mod: Any, attr: str, value: Any) -> Any:
    old = getattr(mod, attr)
    setattr(mod, attr, value)
    try:
        yield
    finally:
        setattr(mod, attr, old)


def steps(model: Any, sets: Any, result: Any) -> dict[str, tuple[Callable[[], Any], Any]]:
    """name -> (the step, a context manager factory switching the optimisation off)."""
    rec = compile_mod._records(model)[id(model.supply_balance)]
    variables = [v for _, objs in rec.segments for v in objs]
    counter = iter(range(10**6))

    def new_t() -> Any:
        block = pyo.Block()
        model.add_component(f"_t{next(counter)}", block)
        return lp_mod.add_variables(block, "t", sets.transfers.select(WPAIR), keys=WPAIR, lb=0.0)

    def supply_balance() -> Any:
        block = pyo.Block()
        model.add_component(f"_b{next(counter)}", block)
        parts = [
            recourse_mod.Terms(sets.demand, model.u, recourse_mod.WDEMAND, 1.0),
            recourse_mod.Terms(sets.spot, model.z, recourse_mod.WARC, 1.0),
        ]
        return recourse_mod.add_rows(
            block, "rows", sets.demand, recourse_mod.WDEMAND, parts, ub="window_demand_t"
        )

    columns = list(compile_mod.compile_model(model).columns)
    return {
        "shared_keys: add_variables for t": (
            new_t,
            lambda: patched(lp_mod, "_shared_list", lambda col: col.to_list()),
        ),
        "bare_vars: terms of supply_balance": (
            lambda: lp_mod._terms(rec.vals, rec.cols, variables),
            lambda: patched(lp_mod, "_terms", _monomials),
        ),
        "join_shortcut: add_rows, terms on u and z": (
            supply_balance,
            lambda: patched(recourse_mod, "_same_rows", lambda a, b: False),
        ),
        "key_frames: index_frame(t)": (
            lambda: lp_mod.index_frame(model.t),
            lambda: patched(lp_mod, "_registered_frame", lambda component: None),
        ),
        "data_objects: the data objects of t": (
            lambda: compile_mod.data_objects(model.t),
            lambda: patched(compile_mod, "data_objects", lambda c: list(c.values())),
        ),
        "key_frames: result.values(t)": (
            lambda: result.values(model.t),
            lambda: patched(lp_mod, "_registered_frame", lambda component: None),
        ),
        "column_arrays: column bounds": (
            lambda: compile_mod._column_arrays_fast(columns),
            lambda: patched(compile_mod, "_column_arrays_fast", compile_mod._column_arrays),
        ),
        "precompiled: compile_model": (
            lambda: compile_mod.compile_model(model),
            lambda: patched(compile_mod, "_fast", lambda m: None),
        ),
    }


def _clean(model: Any) -> None:
    """Remove the blocks the steps added, so that every step sees the same model."""
    for block in list(model.component_objects(pyo.Block, descend_into=False)):
        if block.local_name.startswith(("_t", "_b")):
            model.del_component(block)


def timed(model: Any, fn: Callable[[], Any]) -> float:
    with PauseGC():
        t = time.perf_counter()
        fn()
        seconds = time.perf_counter() - t
    _clean(model)
    return seconds


def retained_mib(model: Any, fn: Callable[[], Any]) -> float:
    gc.collect()
    tracemalloc.start()
    with PauseGC():
        kept = fn()
    size = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del kept
    _clean(model)
    return size / 2**20


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="1M")
    ap.add_argument("--repeat", type=int, default=7)
    ap.add_argument("--steps", default="", help="comma-separated name prefixes (default all)")
    args = ap.parse_args(argv)
    wanted = [w for w in args.steps.split(",") if w]
    data, scenarios = sw.world(*sw.SIZES[args.size])
    with PauseGC():
        model, sets = build_stress(data, scenarios, sw.settings())
        result = solve(model, SolverOptions(log_to="off"))
    print(f"{args.size}: model built and solved; timing each step ...")
    lines = [
        f"\n{args.size}, one warm process, medians of {args.repeat} interleaved runs\n",
        "| step | with s | without s | saved s | Python MiB kept, with | without |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, (fn, off) in steps(model, sets, result).items():
        if wanted and not name.startswith(tuple(wanted)):
            continue
        on_t: list[float] = []
        off_t: list[float] = []
        for _ in range(args.repeat):
            on_t.append(timed(model, fn))
            with off():
                off_t.append(timed(model, fn))
        on_m = retained_mib(model, fn)
        with off():
            off_m = retained_mib(model, fn)
        a, b = statistics.median(on_t), statistics.median(off_t)
        lines.append(f"| {name} | {a:.3f} | {b:.3f} | {b - a:+.3f} | {on_m:.0f} | {off_m:.0f} |")
        print(lines[-1])
    print("\n".join(lines))


if __name__ == "__main__":
    main()
