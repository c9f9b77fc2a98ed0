r"""What a spec *is*: the typed objects studies and scenario catalogues turn into.

Errors (:class:`SpecError`, one :class:`SpecProblem` per rejected value), country sets,
the policy knobs (:class:`Policy`, :data:`KNOBS` with their allowed values), disruptions,
scenarios, compositions, catalogues and studies. Reading and validating the YAML files
is :mod:`resilience.scenarios`; the format is in ``models/README.md``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import polars as pl

from resilience.errors import ResilienceError
from resilience.reference.alliances import load_alliances
from resilience.reference.alliances import members as bloc_members
from resilience.reference.commodities import load_commodities
from resilience.reference.countries import CountryResolver

log = logging.getLogger(__name__)

#: Burden-sharing rules of pooled stocks: IEA style by consumption, or equal shares.
BURDEN_RULES = ("consumption", "equal")
SCENARIO_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
SAME_EVENT = (
    "disruptions with the same name (or none) happen together: one probability and "
    "duration, or different names"
)


# ----------------------------------------------------------------------------- errors
@dataclass(frozen=True)
class SpecProblem:
    """One rejected value of a spec file: file, key path, value, why, and what is allowed."""

    file: str
    key: str
    value: object
    reason: str
    allowed: str | None = None

    def __str__(self) -> str:
        text = f"{self.file}: {self.key}: {self.reason} (value: {self.value!r}"
        return text + (f"; allowed: {self.allowed})" if self.allowed else ")")


class SpecError(ResilienceError, ValueError):
    """A study or scenario spec was rejected; carries every :class:`SpecProblem` found."""

    max_listed = 20

    def __init__(self, problems: Sequence[SpecProblem]) -> None:
        if not problems:
            raise ValueError("SpecError needs at least one problem")
        self.problems: tuple[SpecProblem, ...] = tuple(problems)
        lines = [str(p) for p in self.problems[: self.max_listed]]
        if len(self.problems) > self.max_listed:
            lines.append(f"... and {len(self.problems) - self.max_listed} more problem(s)")
        head = f"{len(self.problems)} problem{'s' * (len(self.problems) > 1)} in spec"
        super().__init__(head + ":\n  " + "\n  ".join(lines))

    @classmethod
    def single(
        cls, file: str | Path, key: str, value: object, reason: str, allowed: str | None = None
    ) -> SpecError:
        """An error holding one problem."""
        return cls([SpecProblem(str(file), key, value, reason, allowed)])


# ----------------------------------------------------------------------------- names
@cache
def alliance_table() -> pl.DataFrame:
    """The shipped blocs (``datasets/alliances.csv``)."""
    return load_alliances()  # read and validated once per process


@cache
def commodity_stages() -> dict[str, tuple[str, ...]]:
    """Commodity -> its stages in ``datasets/commodities.csv``."""
    frame = load_commodities()
    out: dict[str, list[str]] = {}
    for c, s in frame.select("commodity", "stage").iter_rows():
        out.setdefault(c, []).append(s)
    return {c: tuple(s) for c, s in out.items()}


def close_matches(word: str, vocabulary: Sequence[str], n: int = 3) -> list[str]:
    """Up to ``n`` words of ``vocabulary`` close to ``word`` (for "did you mean")."""
    return difflib.get_close_matches(word, list(vocabulary), n=n, cutoff=0.6)


def near_codes(token: str, resolver: CountryResolver) -> list[str]:
    """ISO3 codes one letter away from ``token`` (longest shared prefix first), with names."""
    near = [
        (-next(i for i, (a, b) in enumerate(zip(code, token, strict=True)) if a != b), code)
        for code in resolver.countries["iso3"].to_list()
        if len(code) == 3 and sum(a != b for a, b in zip(code, token, strict=True)) == 1
    ]
    return [f"{c} ({resolver.name_of(c)})" for _, c in sorted(near)[:5]]


@dataclass(frozen=True, repr=False)
class CountrySet:
    """Countries named directly (ISO3) and blocs (ids), resolved to ISO3 codes on a date.

    Written in a spec as a bloc expression (``G7+EU``, ``G7+KOR``) or a list of
    countries and blocs (``[USA, Japan, EU]``).
    """

    countries: tuple[str, ...] = ()
    blocs: tuple[str, ...] = ()
    #: Membership rows ``(bloc, iso3, joined, left)`` of the user's blocs among ``blocs``
    #: (from a study's ``bloc_files``, :func:`resilience.reference.bloc_files.read_bloc_file`).
    user_blocs: tuple[tuple[str, str, dt.date, dt.date | None], ...] = ()

    def resolve(self, on: dt.date) -> list[str]:
        """Sorted ISO3 codes: the countries plus the blocs' members on ``on``."""
        found = set(self.countries)
        user = {b for b, _, _, _ in self.user_blocs}
        shipped = [b for b in self.blocs if b not in user]
        if shipped:
            found |= set(bloc_members(alliance_table(), shipped, on))
        found |= {
            iso3
            for bloc, iso3, joined, left in self.user_blocs
            if joined <= on and (left is None or on < left)
        }
        return sorted(found)

    def __str__(self) -> str:
        return "+".join([*self.blocs, *self.countries])

    def __repr__(self) -> str:
        return repr(str(self))


@dataclass(frozen=True)
class Knob:
    """One knob of a run: its name, what it sets, what it accepts, its default.

    ``scope`` is ``"policy"`` (a field of :class:`Policy`, set by a study's ``policy:``,
    a catalogue policy entry, an override or a sweep) or ``"disruption"`` (a number of
    every disruption event: set in the catalogue, and by a sweep where ``sweepable``).
    ``kind`` selects the check (:data:`INTERVALS` for numbers, ``year_or_null`` a whole
    year in its interval; ``countries``, ``bool``, ``choice``, ``count``, ``sectors``,
    ``goods`` otherwise) and ``allowed`` is what an error says is allowed.
    """

    name: str
    scope: str
    kind: str
    allowed: str
    default: Any
    sweepable: bool = True


#: Every knob, once: :class:`Policy`'s defaults, :data:`KNOBS`, the disruption numbers
#: the catalogue reads (:data:`DISRUPTION_NUMBERS`) and the knobs a sweep may vary
#: (:data:`resilience.sweeps.knobs.DISRUPTION_KNOBS` and :data:`KNOBS`) derive from it.
KNOB_TABLE: tuple[Knob, ...] = (
    Knob(
        "allies",
        "policy",
        "countries",
        "a bloc expression such as G7+EU, or a list of countries/blocs",
        None,
    ),
    Knob("max_non_allied_share", "policy", "unit", "a number in [0, 1]", 1.0),
    Knob("max_single_supplier_share", "policy", "unit", "a number in [0, 1]", 1.0),
    Knob("min_stock_days", "policy", "nonneg", "a number >= 0", 0.0),
    Knob("max_stock_days", "policy", "nonneg_or_null", "a number >= 0, or null for no limit", None),
    Knob(
        "spare_capacity",
        "policy",
        "nonneg",
        "a number >= 0 (fraction of observed exports)",
        0.10,
    ),
    Knob("spot", "policy", "bool", "true or false", True),
    Knob(
        "spot_premium", "policy", "nonneg", "a number >= 0 (0.5 = spot costs 1.5 x contract)", 0.5
    ),
    Knob(
        "value_of_lost_supply_multiple",
        "policy",
        "nonneg",
        "a number >= 0 (multiple of unit value)",
        5.0,
    ),
    Knob(
        "holding_cost_share",
        "policy",
        "nonneg",
        "a number >= 0 (share of unit value per year)",
        0.10,
    ),
    Knob("pooling", "policy", "bool", "true or false", False),
    Knob("burden_rule", "policy", "choice", " or ".join(BURDEN_RULES), "consumption"),
    Knob("cvar_weight", "policy", "nonneg", "a number >= 0", 0.0),
    Knob("cvar_level", "policy", "level", "a number in [0, 1)", 0.95),
    Knob("coercion_gamma", "policy", "count", "an integer >= 1", 1),
    Knob("disruption_days", "policy", "days", "a number in (0, 365]", None),
    Knob(
        "sectors",
        "policy",
        "sectors",
        "a list of sectors of datasets/commodities.csv (chips, critical_materials, energy), "
        "or null for every sector",
        None,
    ),
    Knob(
        "capacity_map_year",
        "policy",
        "year_or_null",
        "a year whose supply rows in datasets/market_balances.csv become the capacity map "
        "(e.g. 2032, SIA/BCG's projection), or null for the study year's",
        None,
    ),
    Knob(
        "capacity_map_goods",
        "policy",
        "goods",
        "a list of commodity/stage ids with world balances in datasets/market_balances.csv "
        "(e.g. wafer_fab_leading_edge/manufacturing), or null for every good of the study "
        "with supply rows of capacity_map_year",
        None,
    ),
    Knob(
        "probability",
        "disruption",
        "prob",
        "a number in (0, 1] (probability of each event in a year)",
        None,
    ),
    Knob(
        "availability",
        "disruption",
        "unit",
        "a number in [0, 1] (share of deliveries that still arrive)",
        0.0,
    ),
    Knob("duration_days", "disruption", "days", "a number in (0, 365] (days)", 365.0, False),
)
_DEFAULT: dict[str, Any] = {k.name: k.default for k in KNOB_TABLE}


@dataclass(frozen=True)
class Policy:
    r"""Alliance-policy knobs of a run (defaults below; meaning in ``models/README.md``).

    ``allies=None`` keeps the study's allies. ``max_stock_days=None``: no upper limit
    (the coercion family then applies its default of 90 days). ``disruption_days=None``:
    the window is the longest disruption of the run (365 days without any).
    """

    allies: CountrySet | None = _DEFAULT["allies"]
    max_non_allied_share: float = _DEFAULT["max_non_allied_share"]
    max_single_supplier_share: float = _DEFAULT["max_single_supplier_share"]
    min_stock_days: float = _DEFAULT["min_stock_days"]
    max_stock_days: float | None = _DEFAULT["max_stock_days"]
    spare_capacity: float = _DEFAULT["spare_capacity"]
    spot: bool = _DEFAULT["spot"]
    spot_premium: float = _DEFAULT["spot_premium"]
    value_of_lost_supply_multiple: float = _DEFAULT["value_of_lost_supply_multiple"]
    holding_cost_share: float = _DEFAULT["holding_cost_share"]
    pooling: bool = _DEFAULT["pooling"]
    burden_rule: str = _DEFAULT["burden_rule"]
    cvar_weight: float = _DEFAULT["cvar_weight"]
    cvar_level: float = _DEFAULT["cvar_level"]
    coercion_gamma: int = _DEFAULT["coercion_gamma"]
    disruption_days: float | None = _DEFAULT["disruption_days"]
    #: Sectors the policy's stock floor, sourcing caps and pooling apply to (``None``:
    #: every sector); the CRMA and the MSP are about raw materials, not oil or chips.
    sectors: tuple[str, ...] | None = _DEFAULT["sectors"]
    #: Year of the capacity map of ``capacity_map_goods`` (``None``: the study year's):
    #: the supply group of that year in ``datasets/market_balances.csv`` (a projection,
    #: e.g. SIA/BCG's 2032 map) replaces the study year's
    #: (:func:`resilience.optimize.market.policies.capacity_map_years`).
    capacity_map_year: int | None = _DEFAULT["capacity_map_year"]
    #: Goods (``commodity/stage``) the capacity map applies to (``None``: every good of
    #: the study with supply rows of ``capacity_map_year`` in ``market_balances.csv``).
    capacity_map_goods: tuple[str, ...] | None = _DEFAULT["capacity_map_goods"]


#: Policy knob -> (kind, allowed values as shown in errors), from :data:`KNOB_TABLE`.
KNOBS: dict[str, tuple[str, str]] = {
    k.name: (k.kind, k.allowed) for k in KNOB_TABLE if k.scope == "policy"
}


_INF = float("inf")
#: Numeric knob kind -> (low, high, low open, high open).
INTERVALS = {
    "unit": (0.0, 1.0, False, False),
    "nonneg": (0.0, _INF, False, False),
    "nonneg_or_null": (0.0, _INF, False, False),
    "level": (0.0, 1.0, False, True),
    "days": (0.0, 365.0, True, False),
    "prob": (0.0, 1.0, True, False),
    "year_or_null": (1990.0, 2100.0, False, False),
}


#: Numbers of a disruption event, from :data:`KNOB_TABLE`.
DISRUPTION_NUMBERS: tuple[Knob, ...] = tuple(k for k in KNOB_TABLE if k.scope == "disruption")


# ----------------------------------------------------------------------------- specs
@dataclass(frozen=True)
class DisruptionSpec:
    """One disruption event: who stops delivering what, to whom, how much, how likely, how long.

    ``commodities`` holds ``(commodity, stage)`` pairs, ``stage=None`` meaning every
    stage; ``None`` for all commodities. ``targets=None``: towards every member.
    """

    suppliers: CountrySet
    probability: float
    availability: float = 0.0
    duration_days: float = 365.0
    targets: CountrySet | None = None
    commodities: tuple[tuple[str, str | None], ...] | None = None
    name: str | None = None


@dataclass(frozen=True)
class ScenarioSpec:
    """A named catalogue entry: documented disruptions and/or policy overrides."""

    name: str
    description: str
    assumptions: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    disruptions: tuple[DisruptionSpec, ...] = ()
    policy: Mapping[str, Any] = field(default_factory=dict)
    #: The group of alternatives this entry belongs to (one event seen at several
    #: lengths or depths: ``taiwan_strait_crisis``), ``None`` for a stand-alone entry.
    #: The group's probability counts once: a ranking, and a run composing several
    #: entries of one group, weigh entry :math:`k` by :math:`p_{group}\, w_k`
    #: (:func:`weighed`).
    alternative_of: str | None = None
    #: The entry's weight :math:`w_k` within its group (weights of a group sum to 1).
    weight: float | None = None


#: Slack on a sum of weights (they are stored as floats of exact fractions).
_WEIGHT_SLACK = 1e-9


def weighed(spec: ScenarioSpec) -> ScenarioSpec:
    r"""``spec`` as one view of its group: each disruption of probability :math:`p_g w_k`.

    The one rule for alternatives (``alternative_of``, ``weight``): a group's probability
    :math:`p_g` counts once, shared among its views by weight. The result stands alone
    (``alternative_of`` and ``weight`` cleared), so it is never weighed twice. A spec that
    is not an alternative is returned unchanged.
    """
    if spec.alternative_of is None or spec.weight is None:
        return spec
    weight = spec.weight
    return dataclasses.replace(
        spec,
        disruptions=tuple(
            dataclasses.replace(d, probability=d.probability * weight) for d in spec.disruptions
        ),
        alternative_of=None,
        weight=None,
    )


def weigh_alternatives(
    specs: Sequence[ScenarioSpec], *, file: str | Path, expression: str
) -> list[ScenarioSpec]:
    r"""The scenarios of one run, several alternatives of one group weighed by :func:`weighed`.

    A run composing two or more views of one group (``taiwan_blockade_3m+
    taiwan_blockade_6m``) holds them as separate scenarios of the stress model; each gets
    :math:`p_g w_k`, so the run's expected loss counts the group once, as the ranking
    does. A view alone keeps the group's probability (the event, if it comes that way).

    Raises
    ------
    SpecError
        The weights of a group's views in the run sum above 1, or a view of weight 0 is
        composed with others (it would be a scenario of probability 0); the problem names
        the scenarios and their weights.
    """
    groups: dict[str, list[ScenarioSpec]] = {}
    for spec in specs:
        if spec.alternative_of is not None and spec.weight is not None:
            groups.setdefault(spec.alternative_of, []).append(spec)
    several = {g: views for g, views in groups.items() if len(views) > 1}
    problems: list[SpecProblem] = []
    for group, views in several.items():
        listed = ", ".join(f"{v.name} (weight {v.weight:g})" for v in views)
        total = sum(v.weight or 0.0 for v in views)
        if total > 1.0 + _WEIGHT_SLACK:
            problems.append(
                SpecProblem(
                    str(file),
                    "scenario",
                    expression,
                    f"the alternatives of {group} composed here ({listed}) have weights "
                    f"summing to {total:g}, above 1",
                    "views of one group whose weights sum to at most 1",
                )
            )
        problems += [
            SpecProblem(
                str(file),
                "scenario",
                expression,
                f"{v.name} has weight 0 in {group}: composed with {listed} it would be a "
                "scenario of probability 0",
                f"run {v.name} alone, or compose views of positive weight",
            )
            for v in views
            if v.weight == 0
        ]
    if problems:
        raise SpecError(problems)
    return [weighed(s) if s.alternative_of in several else s for s in specs]


@dataclass(frozen=True)
class Composition:
    """One run's scenarios composed.

    Names (base first), ``(scenario, disruption)`` events, the policy in force and, per
    knob set explicitly, who set it (``"study"`` or ``"scenario <name>"``).
    """

    names: tuple[str, ...]
    events: tuple[tuple[str, DisruptionSpec], ...]
    policy: Policy
    set_by: Mapping[str, str]


@dataclass(frozen=True)
class Catalogue:
    """Named scenarios read from one file (:func:`load_catalogue`)."""

    path: Path
    scenarios: Mapping[str, ScenarioSpec]

    def get(self, name: str, *, file: str | Path, key: str) -> ScenarioSpec:
        """The scenario ``name``; :class:`SpecError` with close matches if unknown."""
        if name in self.scenarios:
            return self.scenarios[name]
        hint = close_matches(name, sorted(self.scenarios))
        raise SpecError.single(
            file,
            key,
            name,
            f"unknown scenario (not in {self.path.name})",
            ("close matches: " + ", ".join(hint)) if hint else ", ".join(sorted(self.scenarios)),
        )

    def parse(self, expression: str, *, file: str | Path, key: str) -> list[ScenarioSpec]:
        """The scenarios of ``a+b+...`` in order (a name given twice counts once)."""
        parts = [p.strip() for p in str(expression).split("+")]
        if not all(parts):
            raise SpecError.single(
                file, key, expression, "empty scenario name", "names joined by '+', e.g. a+b"
            )
        return [self.get(p, file=file, key=key) for p in dict.fromkeys(parts)]

    def overrides(
        self, expression: str, *, file: str | Path, key: str
    ) -> tuple[list[ScenarioSpec], dict[str, Any], dict[str, str]]:
        """Scenarios, merged policy overrides and their origins; conflicts raise."""
        specs = self.parse(expression, file=file, key=key)
        merged: dict[str, Any] = {}
        origin: dict[str, str] = {}
        problems: list[SpecProblem] = []
        for spec in specs:
            for knob, value in spec.policy.items():
                if knob in merged and merged[knob] != value:
                    problems.append(
                        SpecProblem(
                            str(self.path),
                            f"scenarios.{spec.name}.policy.{knob}",
                            value,
                            f"conflicts with scenarios.{origin[knob]}.policy.{knob} = "
                            f"{merged[knob]!r} in the composition {expression!r}",
                            "one value per knob within a composition: drop one scenario "
                            "or make them agree",
                        )
                    )
                    continue
                merged[knob] = value
                origin[knob] = spec.name
        if problems:
            raise SpecError(problems)
        return specs, merged, origin


@dataclass(frozen=True)
class StudySpec:
    """A study file (:func:`load_study`): what to model and with which scenarios."""

    path: Path
    name: str
    description: str
    year: int
    members: CountrySet
    allies: CountrySet
    commodities: tuple[tuple[str, str], ...]
    model: str
    catalogue: Catalogue
    adversary: CountrySet | None = None
    policy: Mapping[str, Any] = field(default_factory=dict)
    scenarios: tuple[str, ...] = ()
    base_scenario: str | None = None
    #: A user's bloc files (CSV or YAML naming ISO3 members, paths relative to the study
    #: file): their blocs can be named in ``members``, ``allies`` and ``adversary``.
    bloc_files: tuple[Path, ...] = ()
    #: Blocs among the members that the market treats as ONE node (one importer, as the
    #: EU in "G7+EU"): their countries' production, trade and stocks are summed, trade
    #: between them nets out, and the bloc's id names the node.
    as_one: tuple[str, ...] = ()

    @property
    def date(self) -> dt.date:
        """Membership date of the blocs: 31 December of the trade year."""
        return dt.date(self.year, 12, 31)

    def merged_blocs(self) -> dict[str, tuple[str, ...]]:
        """``bloc -> its ISO3 countries`` on the study's date, for the blocs in ``as_one``."""
        return {
            b: tuple(CountrySet(blocs=(b,), user_blocs=self.members.user_blocs).resolve(self.date))
            for b in self.as_one
        }

    def node_map(self) -> dict[str, str]:
        """``ISO3 -> market node`` of the countries inside an ``as_one`` bloc."""
        return {c: b for b, countries in self.merged_blocs().items() for c in countries}

    def to_nodes(self, countries: Iterable[str]) -> list[str]:
        """Market nodes of ISO3 codes (a country in an ``as_one`` bloc is the bloc), sorted."""
        mapping = self.node_map()
        return sorted({mapping.get(c, c) for c in countries})

    def member_nodes(self) -> list[str]:
        """The members as market nodes: countries, and each ``as_one`` bloc once."""
        return self.to_nodes(self.members.resolve(self.date))

    def allied_nodes(self, allies: CountrySet | None = None) -> list[str]:
        """Allied market nodes (``allies`` or the study's).

        An ``as_one`` bloc is allied when every one of its countries is.
        """
        chosen = set((allies or self.allies).resolve(self.date))
        out = {c for c in chosen if c not in self.node_map()}
        out |= {b for b, cs in self.merged_blocs().items() if set(cs) <= chosen}
        return sorted(out)

    def compose(self, expression: str | None = None) -> Composition:
        """Layer study policy, base scenario and ``expression`` (see the module docstring)."""
        policy = dataclasses.replace(Policy(), **self.policy)
        set_by = dict.fromkeys(self.policy, "study")
        names: list[str] = []
        events: list[tuple[str, DisruptionSpec]] = []
        layers = [(self.base_scenario, str(self.path), "base_scenario")]
        layers.append((expression, "--scenario", "scenario"))
        composed: list[ScenarioSpec] = []
        for expr, file, key in layers:
            if not expr:
                continue
            specs, merged, origin = self.catalogue.overrides(expr, file=file, key=key)
            policy = dataclasses.replace(policy, **merged)
            set_by.update({k: f"scenario {v}" for k, v in origin.items()})
            for spec in specs:
                if spec.name in names:
                    continue
                names.append(spec.name)
                composed.append(spec)
        what = "+".join(x for x in (self.base_scenario, expression) if x)
        for spec in weigh_alternatives(composed, file=self.catalogue.path, expression=what):
            events += [(spec.name, d) for d in spec.disruptions]
        return Composition(tuple(names), tuple(events), policy, set_by)
