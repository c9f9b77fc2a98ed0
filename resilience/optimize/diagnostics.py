"""Explain why a model is infeasible, in the user's words; the errors a solve raises.

The error classes live here (with the explanation one of them carries) and are
re-exported by :mod:`resilience.optimize.solve`, which raises them.

:func:`explain_infeasible` compiles the model (:func:`resilience.optimize.lp.compile_model`),
asks HiGHS for an irreducible infeasible subsystem (IIS: a set of constraints and variable
bounds that cannot hold together, and from which no member can be dropped) and maps its
rows and columns back to Pyomo component names and index tuples, e.g.
``("alliance_share", ("USA", "lithium"))``. A ``describe`` callable supplied by the model
family turns each into a sentence; anything it does not word (returns ``None`` for)
gets a default sentence built from the names and bounds.

IIS strategy (highspy 1.15.1)
-----------------------------
``iis_strategy`` is a bitmask (HiGHS ``IisStrategy``): 2 = from the LP (elastic filter),
+4 = reduce to an irreducible set, +8 = prefer columns, 16 = MIP relaxation. Measured on
this version: the default 0 ("light") checks only bound/activity clashes and returns an
*empty* IIS for a conflict among several rows; 1 (from the dual ray) and 16 return
``kError``; 2 returns the conflicting rows but reports them reducible; **6** returns the
same rows and certifies them irreducible. This module uses 6 and falls back to 2.

A MIP is explained through its LP relaxation (HiGHS has no MIP IIS yet); if the
relaxation is feasible, the conflict involves integrality and the explanation says so.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import highspy
import polars as pl

from resilience.errors import ResilienceError
from resilience.optimize.lp import compile_model

__all__ = [
    "Describe",
    "DualsUnavailableError",
    "IisMember",
    "InfeasibilityExplanation",
    "InfeasibleModelError",
    "InfeasibleOrUnboundedModelError",
    "OptimizationError",
    "SolverError",
    "SolverLimitError",
    "UnboundedModelError",
    "explain_infeasible",
    "hint_for",
    "status_of",
]

log = logging.getLogger(__name__)

#: ``(constraint or variable family name, index tuple) -> sentence`` (``None``: default).
Describe = Callable[[str, tuple[Any, ...]], "str | None"]

#: HiGHS ``iis_strategy`` values tried in order: FromLp|Irreducible, then FromLp.
IIS_STRATEGIES = (6, 2)
_IIS_IRREDUCIBLE = 3  # HiGHS kIisModelStatusIrreducible (not bound in highspy)
_BOUND = {
    int(highspy.IisBoundStatus.kIisBoundStatusLower): "lower",
    int(highspy.IisBoundStatus.kIisBoundStatusUpper): "upper",
    int(highspy.IisBoundStatus.kIisBoundStatusBoxed): "both",
}


@dataclass(frozen=True)
class IisMember:
    """One constraint or variable bound in the conflicting set."""

    kind: Literal["constraint", "variable"]
    family: str
    """Component name, e.g. ``"alliance_share"``."""
    index: tuple[Any, ...]
    """Index tuple, ``()`` for a scalar component."""
    bound: Literal["lower", "upper", "both"]
    """Which bound takes part in the conflict (``both`` for equalities and boxed bounds)."""
    sentence: str


@dataclass(frozen=True)
class InfeasibilityExplanation:
    """A set of requirements that cannot all hold, in words and as raw IIS data.

    Attributes
    ----------
    members
        The IIS rows (constraints) and columns (variable bounds), mapped to names.
    is_irreducible
        HiGHS certified that dropping any member makes the rest feasible.
    strategy
        The ``iis_strategy`` that produced it (``None`` if none did).
    message
        One-line summary, or why no IIS could be found.
    iis_rows, iis_cols
        Raw HiGHS row and column indices of the compiled model.
    """

    members: tuple[IisMember, ...]
    is_irreducible: bool
    strategy: int | None
    message: str
    iis_rows: tuple[int, ...] = ()
    iis_cols: tuple[int, ...] = ()

    @property
    def sentences(self) -> tuple[str, ...]:
        """One sentence per member (or the message when there are none)."""
        return tuple(m.sentence for m in self.members) or (self.message,)

    @property
    def constraints(self) -> tuple[tuple[str, tuple[Any, ...]], ...]:
        """``(family, index)`` of the conflicting constraints."""
        return tuple((m.family, m.index) for m in self.members if m.kind == "constraint")

    @property
    def variables(self) -> tuple[tuple[str, tuple[Any, ...]], ...]:
        """``(family, index)`` of the variables whose bounds take part."""
        return tuple((m.family, m.index) for m in self.members if m.kind == "variable")

    def to_frame(self) -> pl.DataFrame:
        """Members as rows: kind, family, index (as text), bound, sentence."""
        return pl.DataFrame(
            {
                "kind": [m.kind for m in self.members],
                "family": [m.family for m in self.members],
                "index": [", ".join(map(str, m.index)) for m in self.members],
                "bound": [m.bound for m in self.members],
                "sentence": [m.sentence for m in self.members],
            },
            schema={c: pl.String for c in ("kind", "family", "index", "bound", "sentence")},
        )

    #: Sentences shown per constraint family before the rest is counted.
    shown_per_family = 4

    def __str__(self) -> str:
        if not self.members:
            return self.message
        by_family: dict[str, list[str]] = {}
        for m in self.members:
            by_family.setdefault(m.family, []).append(m.sentence)
        lines: list[str] = []
        for sentences in by_family.values():
            lines += [f"  - {s}" for s in sentences[: self.shown_per_family]]
            rest = len(sentences) - self.shown_per_family
            if rest > 0:
                lines.append(f"    ... and {rest} more like this")
        return self.message + "\n" + "\n".join(lines)


# ----------------------------------------------------------------------------- errors


class OptimizationError(ResilienceError, RuntimeError):
    """A solve ended without a usable answer; says why and what to try, in plain words.

    Attributes
    ----------
    termination_condition
        Pyomo ``TerminationCondition`` name (e.g. ``"provenInfeasible"``).
    hint
        What to change, in plain words.
    log_tail
        The last lines of the HiGHS log.
    """

    def __init__(
        self, message: str, *, termination_condition: str, hint: str, log_tail: str = ""
    ) -> None:
        self.termination_condition = termination_condition
        self.hint = hint
        self.log_tail = log_tail
        super().__init__(f"{message}\nHint: {hint}")


class InfeasibleModelError(OptimizationError):
    """No plan satisfies all constraints; ``explanation`` lists a conflicting set when asked."""

    def __init__(
        self,
        message: str,
        *,
        termination_condition: str,
        hint: str,
        log_tail: str = "",
        explanation: InfeasibilityExplanation | None = None,
    ) -> None:
        self.explanation = explanation
        if explanation is not None:
            message += "\n" + str(explanation)
        super().__init__(
            message, termination_condition=termination_condition, hint=hint, log_tail=log_tail
        )


class UnboundedModelError(OptimizationError):
    """The objective improves without limit."""


class InfeasibleOrUnboundedModelError(InfeasibleModelError, UnboundedModelError):
    """HiGHS proved one of the two but could not tell which, even without presolve."""


class SolverLimitError(OptimizationError):
    """A time, iteration or other limit stopped HiGHS before it found any feasible plan."""


class SolverError(OptimizationError):
    """HiGHS failed or ended in an unknown state."""


class DualsUnavailableError(OptimizationError):
    """Duals or reduced costs were asked of a solve that has none (e.g. a MIP)."""


#: What to change, in the terms of a study, a scenario and the command line. Study runs
#: (``resilience run``, ``rs.run``) always list the conflicting requirements.
_RELAX = (
    "in the study's or scenario's policy, loosen a limit (lower min_stock_days or raise "
    "max_stock_days: a stock floor above the stock's capacity has no answer), or drop a "
    "scenario from --scenario; `resilience sweep STUDY -g min_stock_days=0,30,60` shows "
    "where an answer becomes possible"
)
_HINTS: dict[str, str] = {
    "provenInfeasible": (
        "the constraints contradict each other: no plan meets all of them. "
        + _RELAX
        + ". (Solved with explain=, as study runs are, the error lists a conflicting set.)"
    ),
    "unbounded": (
        "the objective can improve without limit: a quantity lacks a bound or a cost. Check "
        "the market parameters you overrode (friction, holding cost and VOLL multiples must "
        "be positive; datasets/market_parameters.csv) and that every good has demand and "
        "suppliers in the trade year."
    ),
    "infeasibleOrUnbounded": (
        "HiGHS could not tell whether no plan is possible or the cost has no floor: "
        + _RELAX
        + "; and check that the friction, holding cost and VOLL multiples you overrode are "
        "positive."
    ),
    "maxTimeLimit": (
        "the model is too hard for the time allowed: run fewer members, commodities or "
        "scenarios at once (split the study), or raise the time limit (time_limit_s)."
    ),
    "iterationLimit": (
        "HiGHS hit an iteration limit: split the study into fewer members or commodities, "
        "or raise the limit given in the solver options."
    ),
    "objectiveLimit": "remove the objective bound or target given in the solver options.",
    "interrupted": "the solve was interrupted; run the command again.",
    "error": (
        "HiGHS reported an error; rerun with `resilience --verbose` to see its log. Look for "
        "zero, negative or huge numbers in the study, scenario or data (demand, prices, "
        "capacities)."
    ),
}
_EXPLAINED_HINT = (
    "relax one of the requirements listed: "
    + _RELAX
    + "; a demand or capacity listed comes from the data for the study's year (try another "
    "year:)."
)
_DEFAULT_HINT = (
    "HiGHS ended in an unexpected state; rerun with `resilience --verbose` to see its log "
    "(logger 'resilience.optimize.highs')."
)


def hint_for(termination_condition: str, *, explained: bool = False) -> str:
    """What to try after a solve ended with ``termination_condition``, in plain words."""
    if explained:
        return _EXPLAINED_HINT
    return _HINTS.get(termination_condition, _DEFAULT_HINT)


def _index_tuple(data: Any) -> tuple[Any, ...]:
    idx = data.index()
    if idx is None:
        return ()
    return idx if isinstance(idx, tuple) else (idx,)


def _num(x: float) -> str:
    return f"{x:.6g}"


def _default_constraint_sentence(con: Any, bound: str) -> str:
    lb, _, ub = con.to_bounded_expression(evaluate_bounds=True)
    if lb is not None and ub is not None and lb == ub:
        need = f"must equal {_num(lb)}"
    elif bound == "lower" or (bound == "both" and ub is None):
        need = f"must be at least {_num(lb)}"
    elif bound == "upper" or lb is None:
        need = f"must be at most {_num(ub)}"
    else:
        need = f"must lie between {_num(lb)} and {_num(ub)}"
    return f"constraint {con.name} {need}"


def _default_variable_sentence(var: Any, bound: str) -> str:
    lb, ub = var.lb, var.ub
    if bound == "lower" or ub is None:
        return f"variable {var.name} must be at least {_num(lb)}"
    if bound == "upper" or lb is None:
        return f"variable {var.name} must be at most {_num(ub)}"
    return f"variable {var.name} must lie between {_num(lb)} and {_num(ub)}"


def _row_bound(con: Any) -> str:
    lb, _, ub = con.to_bounded_expression(evaluate_bounds=True)
    if lb is not None and ub is not None:
        return "both"
    return "lower" if lb is not None else "upper"


def _word(describe: Describe | None, family: str, index: tuple[Any, ...], default: str) -> str:
    if describe is None:
        return default
    try:
        sentence = describe(family, index)
    except Exception:  # a faulty wording must not hide the infeasibility itself
        log.warning(
            "describe(%r, %r) failed; using the default wording", family, index, exc_info=True
        )
        return default
    return sentence if sentence else default


def _members(compiled: Any, iis: Any, describe: Describe | None) -> list[IisMember]:
    """IIS rows and (bound-limited) columns mapped to names, indices and sentences."""
    members: list[IisMember] = []
    for r, b in zip(iis.row_index_, iis.row_bound_, strict=True):
        con = compiled.rows[int(r)]
        bound = _BOUND.get(int(b)) or _row_bound(con)
        family, index = con.parent_component().name, _index_tuple(con)
        sentence = _word(describe, family, index, _default_constraint_sentence(con, bound))
        members.append(IisMember("constraint", family, index, bound, sentence))  # type: ignore[arg-type]
    for c, b in zip(iis.col_index_, iis.col_bound_, strict=True):
        col_bound = _BOUND.get(int(b))
        if col_bound is None:  # the column takes part only through its rows
            continue
        var = compiled.columns[int(c)]
        family, index = var.parent_component().name, _index_tuple(var)
        sentence = _word(describe, family, index, _default_variable_sentence(var, col_bound))
        members.append(IisMember("variable", family, index, col_bound, sentence))  # type: ignore[arg-type]
    return members


def _summary(n: int, relaxed: bool, irreducible: bool) -> str:
    if n == 1:
        message = "No plan can meet this requirement"
    else:
        message = f"No plan can meet all {n} of these requirements at once"
    if relaxed:
        message += " (found on the LP relaxation)"
    if not irreducible:
        message += "; the set may not be minimal"
    return message + ":"


def explain_infeasible(
    model: Any, describe: Describe | None = None, *, time_limit_s: float = 60.0
) -> InfeasibilityExplanation:
    """Find an irreducible infeasible subsystem and put it in words.

    Parameters
    ----------
    model
        The infeasible linear (MI)LP Pyomo model.
    describe
        ``(family name, index tuple) -> sentence`` for constraints and variables, e.g.
        ``lambda fam, idx: f"member {idx[0]} needs ..." if fam == "demand" else None``.
    time_limit_s
        Time limit for each HiGHS call.

    Returns
    -------
    InfeasibilityExplanation
        With no members (and a message saying why) when HiGHS finds no IIS.
    """
    compiled = compile_model(model)
    lp = compiled.lp
    relaxed = compiled.is_mip
    if relaxed:
        lp.integrality_ = []
    last_problem = "HiGHS found no conflicting set"
    for strategy in IIS_STRATEGIES:
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("time_limit", float(time_limit_s))
        h.setOptionValue("iis_strategy", strategy)
        h.passModel(lp)
        h.run()
        status = h.getModelStatus()
        if status == highspy.HighsModelStatus.kOptimal:
            what = "its LP relaxation" if relaxed else "it"
            msg = f"HiGHS finds {what} feasible"
            if relaxed:
                msg += ": the conflict involves integrality (whole units, on/off choices)"
            return InfeasibilityExplanation((), False, None, msg + ".")
        ok, iis = h.getIis()
        rows = [int(r) for r in iis.row_index_]
        cols = [int(c) for c in iis.col_index_]
        if ok != highspy.HighsStatus.kOk or not iis.valid_ or not (rows or cols):
            last_problem = f"iis_strategy={strategy} gave status {ok.name}, valid={iis.valid_}"
            log.debug("IIS attempt failed: %s", last_problem)
            continue
        members = _members(compiled, iis, describe)
        irreducible = int(iis.status_) == _IIS_IRREDUCIBLE
        message = _summary(len(members), relaxed, irreducible)
        return InfeasibilityExplanation(
            tuple(members), irreducible, strategy, message, tuple(rows), tuple(cols)
        )
    return InfeasibilityExplanation(
        (),
        False,
        None,
        f"HiGHS could not isolate the conflicting constraints ({last_problem}). Relax policy "
        "limits one at a time, or add a penalised shortfall variable, to find the cause.",
    )


def status_of(exc: OptimizationError) -> str:
    """The status word of a failed solve, as result tables record it.

    ``infeasible``, ``infeasible_or_unbounded``, ``unbounded``, ``limit`` (stopped at a
    time or iteration limit before any feasible plan) or ``error``.
    """
    if isinstance(exc, InfeasibleModelError):
        return "infeasible_or_unbounded" if isinstance(exc, UnboundedModelError) else "infeasible"
    if isinstance(exc, UnboundedModelError):
        return "unbounded"
    return "limit" if isinstance(exc, SolverLimitError) else "error"
