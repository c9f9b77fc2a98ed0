r"""Scenario and study specs: YAML files turned into typed, validated objects.

The objects themselves live in :mod:`resilience.specs` (re-exported here).

Two kinds of file (format in ``models/README.md``):

*catalogue* (``models/scenarios.yaml``)
    named scenarios, each carrying **disruptions** (a supplier set stops delivering some
    commodities, to everyone or to chosen targets, with an availability, an annual
    probability and a duration) and/or **policy overrides** (allies, friend-shoring share
    :math:`\alpha`, single-supplier cap :math:`\beta`, stock days, pooling, burden rule,
    CVaR weight...). Scenarios compose with ``+``: ``taiwan_blockade+g7_friendshoring``.
*study* (``models/<name>.yaml``)
    what to model: year, members, allies, adversary, commodities, model family, base
    policy, the scenarios it compares and an optional base scenario.

Composition: the disruptions of the composed scenarios are pooled (each disruption is
one event; events are mutually exclusive within the modelled year); policy overrides are
applied in order *study policy -> base scenario -> run scenario*, a later layer winning
over an earlier one. Within one layer (one ``a+b`` expression) two scenarios that set
the same knob to different values are an error naming both scenarios, the key and the
values — never a silent "last one wins".

Every rejected value raises :class:`SpecError`, naming the file, the key path
(``scenarios.taiwan_blockade.disruptions[0].availability``), the value and what is
allowed. YAML is read by :func:`resilience.yaml_io.read_yaml` (safe loading, no code
execution; size and alias limits; duplicate keys rejected with both lines). Names are
checked when the file is loaded: countries through the shipped resolver (ISO3 codes or
names), blocs against ``datasets/alliances.csv``, commodities against
``datasets/commodities.csv``, each with close matches for typos.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Mapping, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import polars as pl

from resilience.paths import project_root
from resilience.reference.alliances import bloc_ids
from resilience.reference.bloc_files import read_bloc_file
from resilience.reference.commodities import load_commodities
from resilience.reference.countries import CountryResolver
from resilience.specs import (
    BURDEN_RULES,
    DISRUPTION_NUMBERS,
    INTERVALS,
    KNOBS,
    SAME_EVENT,
    SCENARIO_NAME,
    Catalogue,
    Composition,
    CountrySet,
    DisruptionSpec,
    Policy,
    ScenarioSpec,
    SpecError,
    SpecProblem,
    StudySpec,
    alliance_table,
    close_matches,
    commodity_stages,
    near_codes,
)
from resilience.yaml_io import read_yaml

__all__ = [
    "BURDEN_RULES",
    "KNOBS",
    "Catalogue",
    "Composition",
    "CountrySet",
    "DisruptionSpec",
    "Policy",
    "ScenarioSpec",
    "SpecError",
    "SpecProblem",
    "SpecReader",
    "StudySpec",
    "as_study",
    "load_catalogue",
    "load_study",
    "parse_scenario",
    "read_yaml",
]

log = logging.getLogger(__name__)


class SpecReader:
    """Collects every problem of one file; typed getters return ``None`` on a bad value.

    Used for every spec the package reads: studies, catalogues, sweep grids, report
    definitions, scenarios built in code.
    """

    def __init__(self, path: Path) -> None:
        self.file = str(path)
        self.problems: list[SpecProblem] = []

    def fail(self, key: str, value: object, reason: str, allowed: str | None = None) -> None:
        """Record a problem at ``key``."""
        self.problems.append(SpecProblem(self.file, key, value, reason, allowed))

    def raise_if_any(self) -> None:
        """Raise every recorded problem as one :class:`SpecError`."""
        if self.problems:
            raise SpecError(self.problems)

    def mapping(self, value: object, key: str, allowed_keys: Sequence[str]) -> dict[str, Any]:
        """A mapping whose keys are all allowed (typos get close matches)."""
        if not isinstance(value, dict):
            self.fail(key, value, "must be a mapping of keys to values", ", ".join(allowed_keys))
            return {}
        for k in value:
            if k not in allowed_keys:
                near = close_matches(str(k), allowed_keys, 1)
                hint = "".join(f" (did you mean {h}?)" for h in near)
                where = f"{key}.{k}" if key else str(k)
                self.fail(where, k, "unknown key" + hint, ", ".join(allowed_keys))
        return value

    def text(self, d: dict[str, Any], name: str, key: str, required: bool = True) -> str | None:
        """A non-empty text at ``key + name``."""
        value = d.get(name)
        if value is None:
            if required:
                self.fail(f"{key}{name}", None, "required key missing", "a text")
            return None
        if not isinstance(value, str) or not value.strip():
            self.fail(f"{key}{name}", value, "must be a non-empty text", "a text")
            return None
        return value.strip()

    def texts(self, d: dict[str, Any], name: str, key: str) -> tuple[str, ...]:
        """A text or a list of texts at ``key + name``."""
        value = d.get(name, [])
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            self.fail(f"{key}{name}", value, "must be a list of texts", "a list of texts")
            return ()
        return tuple(v.strip() for v in value)

    def number(self, value: object, key: str, kind: str, allowed: str) -> float | None:
        """A number in the interval of ``kind`` (:data:`INTERVALS`)."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(key, value, "must be a number", allowed)
            return None
        x = float(value)
        low, high, low_open, high_open = INTERVALS[kind]
        ok = (x > low if low_open else x >= low) and (x < high if high_open else x <= high)
        if not ok:
            self.fail(key, value, "out of range", allowed)
            return None
        return x

    def bloc_files(self, value: object, key: str, base: Path) -> tuple[Path, ...]:
        """A list of bloc files (paths relative to ``base``), each an existing file."""
        if value is None:
            return ()
        names = [value] if isinstance(value, str) else value
        if not isinstance(names, list) or not all(isinstance(v, str) and v for v in names):
            self.fail(key, value, "must be a list of file paths", "CSV or YAML bloc files")
            return ()
        paths = tuple((base / v).resolve() for v in names)
        for i, path in enumerate(paths):
            if not path.is_file():
                self.fail(f"{key}[{i}]", names[i], f"no such file: {path}", "an existing file")
        return paths

    def countries(
        self, value: object, key: str, user: pl.DataFrame | None = None
    ) -> CountrySet | None:
        """A bloc expression or a list of countries/blocs, each name checked.

        ``user`` holds the membership rows of a study's own blocs (``bloc_files``).
        """
        if isinstance(value, str):
            tokens = [t.strip() for t in value.split("+")]
        elif isinstance(value, list) and value and all(isinstance(t, str) for t in value):
            tokens = [t.strip() for t in value]
        else:
            reason = "must be a bloc expression or a list of countries/blocs"
            if isinstance(value, bool) or (isinstance(value, list) and bool in map(type, value)):
                reason += " (YAML reads an unquoted NO, YES, ON or OFF as true/false: quote it)"
            self.fail(key, value, reason, KNOBS["allies"][1])
            return None
        blocs = bloc_ids(alliance_table())
        user_ids = [] if user is None else sorted(set(user["bloc"].to_list()))
        blocs = [*blocs, *user_ids]
        resolver = CountryResolver.default()
        found_countries: list[str] = []
        found_blocs: list[str] = []
        bad = False
        for i, token in enumerate(tokens):
            where = key if isinstance(value, str) else f"{key}[{i}]"
            hit = resolver.lookup(token) if token else None
            if token in blocs:
                found_blocs.append(token)
            elif hit is not None and hit.kind == "country" and hit.iso3 is not None:
                found_countries.append(hit.iso3)
            else:
                bad = True
                hint = near_codes(token.upper(), resolver) if len(token) == 3 else []
                hint += close_matches(token.upper(), blocs) + resolver.suggest(token)
                self.fail(
                    where,
                    token,
                    "unknown country or bloc",
                    ("close matches: " + ", ".join(dict.fromkeys(hint)) + "; " if hint else "")
                    + "an ISO3 code, a country name, or a bloc: "
                    + ", ".join(blocs),
                )
        if bad:
            return None
        rows = (
            ()
            if user is None
            else tuple(
                user.filter(pl.col("bloc").is_in(found_blocs))
                .select("bloc", "iso3", "joined", "left")
                .iter_rows()
            )
        )
        return CountrySet(
            tuple(dict.fromkeys(found_countries)), tuple(dict.fromkeys(found_blocs)), rows
        )

    def commodity(self, value: object, key: str, need_stage: bool) -> tuple[str, str | None] | None:
        """``commodity/stage`` (or a bare commodity when ``need_stage`` is false)."""
        stages = commodity_stages()
        form = "commodity/stage, e.g. cobalt/refining" if need_stage else "commodity[/stage]"
        if not isinstance(value, str) or not value.strip():
            self.fail(key, value, "must be a text", form)
            return None
        commodity, _, stage = value.strip().partition("/")
        if commodity not in stages:
            hint = close_matches(commodity, sorted(stages))
            self.fail(
                key,
                value,
                "unknown commodity",
                ("close matches: " + ", ".join(hint))
                if hint
                else "ids in datasets/commodities.csv",
            )
            return None
        if not stage:
            if need_stage:
                pairs = ", ".join(f"{commodity}/{s}" for s in stages[commodity])
                self.fail(key, value, "a stage is required", pairs)
                return None
            return commodity, None
        if stage not in stages[commodity]:
            pairs = ", ".join(f"{commodity}/{s}" for s in stages[commodity])
            self.fail(key, value, f"unknown stage of {commodity}", pairs)
            return None
        return commodity, stage

    def commodities(
        self, raw: object, key: str, need_stage: bool
    ) -> tuple[tuple[str, str | None], ...]:
        """A non-empty list of commodity ids, each checked (see :meth:`commodity`)."""
        if not isinstance(raw, list) or not raw:
            self.fail(
                key, raw, "must be a non-empty list", "commodity/stage ids, e.g. nickel/mining"
            )
            return ()
        pairs = [self.commodity(c, f"{key}[{i}]", need_stage) for i, c in enumerate(raw)]
        return tuple(dict.fromkeys(p for p in pairs if p is not None))

    def knob(self, name: str, raw: object, where: str) -> tuple[bool, Any]:
        """``(ok, value)`` of one policy knob."""
        kind, allowed = KNOBS[name]
        if kind == "countries":
            found = self.countries(raw, where)
            return found is not None, found
        if kind == "sectors":
            return self.sectors(raw, where, allowed)
        if kind == "goods":
            return self.goods(raw, where, allowed)
        if kind == "year_or_null":
            if raw is None:
                return True, None
            if isinstance(raw, bool) or not isinstance(raw, int):
                self.fail(where, raw, "must be a whole number (a year)", allowed)
                return False, None
            year = self.number(raw, where, kind, allowed)
            return year is not None, raw
        checks = {
            "bool": (isinstance(raw, bool), "must be true or false"),
            "choice": (raw in BURDEN_RULES, "unknown choice"),
            "count": (
                isinstance(raw, int) and not isinstance(raw, bool) and raw >= 1,
                "must be a whole number >= 1",
            ),
        }
        if kind in checks:
            ok, reason = checks[kind]
            if not ok:
                self.fail(where, raw, reason, allowed)
            return ok, raw
        if kind == "nonneg_or_null" and raw is None:
            return True, None
        x = self.number(raw, where, kind, allowed)
        return x is not None, x

    def sectors(self, raw: object, where: str, allowed: str) -> tuple[bool, Any]:
        """``(ok, tuple of sectors or None)`` of a ``sectors`` knob."""
        if raw is None:
            return True, None
        known = sorted(set(load_commodities()["sector"].to_list()))
        if not isinstance(raw, list) or not raw or not all(isinstance(x, str) for x in raw):
            self.fail(where, raw, "must be a non-empty list of sectors", allowed)
            return False, None
        bad = [x for x in raw if x not in known]
        for x in bad:
            near = close_matches(x, known, 1)
            hint = f" (did you mean {near[0]}?)" if near else ""
            self.fail(where, x, "unknown sector" + hint, ", ".join(known))
        return not bad, tuple(dict.fromkeys(raw))

    def goods(self, raw: object, where: str, allowed: str) -> tuple[bool, Any]:
        """``(ok, tuple of commodity/stage ids or None)`` of a ``goods`` knob."""
        if raw is None:
            return True, None
        if not isinstance(raw, list) or not raw:
            self.fail(where, raw, "must be a non-empty list of commodity/stage ids", allowed)
            return False, None
        before = len(self.problems)
        pairs = self.commodities(raw, where, need_stage=True)
        return len(self.problems) == before, tuple(f"{c}/{s}" for c, s in pairs)

    def knobs(self, value: object, key: str, allow_allies: bool) -> dict[str, Any]:
        """Validated policy overrides (only the keys given)."""
        names = [k for k in KNOBS if allow_allies or k != "allies"]
        out: dict[str, Any] = {}
        for name, raw in self.mapping(value, key, names).items():
            if name in names:
                ok, parsed = self.knob(name, raw, f"{key}.{name}")
                if ok:
                    out[name] = parsed
        return out

    def disruption(self, value: object, key: str) -> DisruptionSpec | None:
        """One disruption mapping (suppliers, probability, availability, duration...)."""
        allowed = [f.name for f in dataclasses.fields(DisruptionSpec)]
        d = self.mapping(value, key, allowed)
        if not d:
            return None
        before = len(self.problems)
        name = self.text(d, "name", f"{key}.", required=False)
        suppliers = None
        if "suppliers" not in d:
            self.fail(f"{key}.suppliers", None, "required key missing", KNOBS["allies"][1])
        else:
            suppliers = self.countries(d["suppliers"], f"{key}.suppliers")
        targets = None
        if d.get("targets") is not None:
            targets = self.countries(d["targets"], f"{key}.targets")
        commodities = None
        if d.get("commodities") is not None:
            commodities = self.commodities(d["commodities"], f"{key}.commodities", False)
        numbers = {}
        for knob in DISRUPTION_NUMBERS:
            if knob.default is None and knob.name not in d:
                self.fail(f"{key}.{knob.name}", None, "required key missing", knob.allowed)
            raw = d.get(knob.name, knob.default)
            numbers[knob.name] = self.number(raw, f"{key}.{knob.name}", knob.kind, knob.allowed)
        if len(self.problems) > before or suppliers is None:
            return None
        probability, availability, duration = (float(v or 0.0) for v in numbers.values())
        return DisruptionSpec(
            suppliers, probability, availability, duration, targets, commodities, name
        )


def parse_scenario(r: SpecReader, name: str, value: object) -> ScenarioSpec | None:
    """One catalogue entry (problems go to ``r``; ``None`` if it cannot be read)."""
    key = f"scenarios.{name}"
    if not SCENARIO_NAME.match(str(name)):
        r.fail(key, name, "bad scenario name", "lower-case letters, digits and _ (no '+')")
        return None
    d = r.mapping(
        value,
        key,
        [
            "description",
            "assumptions",
            "sources",
            "disruptions",
            "policy",
            "alternative_of",
            "weight",
        ],
    )
    if not d:
        return None
    description = r.text(d, "description", f"{key}.")
    raw = d.get("disruptions") or []
    if not isinstance(raw, list):
        r.fail(f"{key}.disruptions", raw, "must be a list", "a list of disruption mappings")
        raw = []
    disruptions = [r.disruption(v, f"{key}.disruptions[{i}]") for i, v in enumerate(raw)]
    first: dict[str | None, DisruptionSpec] = {}
    for i, x in enumerate(disruptions):
        for attr in ("probability", "duration_days") if x is not None else ():
            assert x is not None
            same = getattr(first.setdefault(x.name, x), attr)
            if getattr(x, attr) != same:
                reason = f"differs from the other disruptions of the same event ({same!r})"
                r.fail(f"{key}.disruptions[{i}].{attr}", getattr(x, attr), reason, SAME_EVENT)
    policy = r.knobs(d["policy"], f"{key}.policy", allow_allies=True) if "policy" in d else {}
    if not raw and not d.get("policy"):
        r.fail(key, name, "a scenario needs disruptions, policy or both", "disruptions, policy")
    group, weight = _alternative(r, d, key, bool(raw) and not d.get("policy"))
    return ScenarioSpec(
        name=name,
        description=description or "",
        assumptions=r.texts(d, "assumptions", f"{key}."),
        sources=r.texts(d, "sources", f"{key}."),
        disruptions=tuple(x for x in disruptions if x is not None),
        policy=policy,
        alternative_of=group,
        weight=weight,
    )


#: What a weight may be, as shown in errors.
_WEIGHT = "a number in [0, 1] or a fraction such as 1/3; the weights of a group sum to 1"


def _alternative(
    r: SpecReader, d: dict[str, Any], key: str, is_disruption: bool
) -> tuple[str | None, float | None]:
    """``(alternative_of, weight)`` of an entry: both or neither, a disruption only."""
    group, raw = d.get("alternative_of"), d.get("weight")
    if group is None and raw is None:
        return None, None
    if group is None or raw is None:
        missing = "alternative_of" if group is None else "weight"
        r.fail(f"{key}.{missing}", None, "required with the other key", "alternative_of and weight")
        return None, None
    if not isinstance(group, str) or not SCENARIO_NAME.match(group):
        r.fail(f"{key}.alternative_of", group, "bad group name", "lower-case letters, digits, _")
        return None, None
    if not is_disruption:
        r.fail(f"{key}.alternative_of", group, "only a disruption without policy", "no policy")
        return None, None
    weight: Fraction | None = None
    if isinstance(raw, str):
        try:
            weight = Fraction(raw.replace(" ", ""))
        except (ValueError, ZeroDivisionError):
            weight = None
    elif isinstance(raw, int | float) and not isinstance(raw, bool):
        weight = Fraction(str(raw))  # 0.3 is 3/10, not the binary double
    if weight is None or not 0 <= weight <= 1:
        r.fail(f"{key}.weight", raw, "must be a weight in [0, 1]", _WEIGHT)
        return None, None
    return group, float(weight)


def check_alternatives(r: SpecReader, scenarios: Mapping[str, ScenarioSpec], raw: object) -> None:
    """Each group of alternatives: weights summing to 1, one probability for all.

    The group's probability :math:`p_{group}` is the probability every member's
    disruptions carry (the event, whatever its length); a member with another one, or
    weights that do not sum to 1 (exactly, as fractions), is a problem naming the entry,
    the field and the value.
    """
    groups: dict[str, list[ScenarioSpec]] = {}
    for spec in scenarios.values():
        if spec.alternative_of is not None:
            groups.setdefault(spec.alternative_of, []).append(spec)
    entries = raw if isinstance(raw, dict) else {}
    for group, members in sorted(groups.items()):
        texts = [(entries.get(m.name) or {}).get("weight") for m in members]
        total = sum(Fraction(str(t).replace(" ", "")) for t in texts)
        if total != 1:
            last = members[-1].name
            listed = ", ".join(f"{m.name}: {t}" for m, t in zip(members, texts, strict=True))
            r.fail(
                f"scenarios.{last}.weight",
                texts[-1],
                f"the weights of the alternatives of {group} ({listed}) sum to "
                f"{float(total):.6g}, not 1",
                _WEIGHT,
            )
        first = members[0]
        if not first.disruptions:
            continue
        p = first.disruptions[0].probability
        for m in members[1:]:
            for i, x in enumerate(m.disruptions):
                if x.probability != p:
                    r.fail(
                        f"scenarios.{m.name}.disruptions[{i}].probability",
                        x.probability,
                        f"differs from {first.name}'s {p!r}: the alternatives of {group} are "
                        "one event, with one probability",
                        f"{p!r}",
                    )


def _load_catalogue(path: Path) -> Catalogue:
    raw = read_yaml(path)
    r = SpecReader(path)
    d = r.mapping(raw, "", ["description", "scenarios"])
    scenarios: dict[str, ScenarioSpec] = {}
    entries = d.get("scenarios")
    if not isinstance(entries, dict) or not entries:
        r.fail(
            "scenarios",
            entries,
            "required mapping of scenario names to scenarios missing",
            "scenarios: {name: {description: ..., disruptions: [...], policy: {...}}}",
        )
    else:
        for name, value in entries.items():
            spec = parse_scenario(r, str(name), value)
            if spec is not None:
                scenarios[str(name)] = spec
        check_alternatives(r, scenarios, entries)
    r.raise_if_any()
    log.info("catalogue %s: %d scenarios", path, len(scenarios))
    return Catalogue(path=path, scenarios=scenarios)


def load_catalogue(path: str | Path) -> Catalogue:
    """Read and validate a scenario catalogue.

    Raises
    ------
    SpecError
        Every problem found (file, key path, value, allowed values).
    """
    p = Path(path).resolve()
    if not p.is_file():
        raise SpecError.single(p, "(file)", str(p), "no such catalogue file")
    return _load_catalogue(p)


def _catalogue_path(study: Path, given: object) -> Path:
    """The study's ``catalogue`` key (relative to the study file), else a default.

    Default: ``scenarios.yaml`` next to the study, else the project's
    ``models/scenarios.yaml``.
    """
    if given is not None:
        if not isinstance(given, str) or not given:
            raise SpecError.single(study, "catalogue", given, "must be a path", "a file path")
        path = study.parent / given
        if not path.is_file():
            raise SpecError.single(
                study, "catalogue", given, f"no such file ({path})", "a path relative to the study"
            )
        return path
    sibling = study.parent / "scenarios.yaml"
    if sibling.is_file():
        return sibling
    shipped = project_root() / "models" / "scenarios.yaml"
    log.info("no scenarios.yaml next to %s; using the shipped catalogue %s", study, shipped)
    return shipped


def _user_blocs(files: Sequence[Path]) -> pl.DataFrame | None:
    """Membership rows of the blocs in a study's ``bloc_files`` (``None`` without any).

    Raises
    ------
    resilience.errors.DataError
        A bad bloc file: file, row, column and value.
    """
    if not files:
        return None
    shipped = bloc_ids(alliance_table())
    frames: list[pl.DataFrame] = []
    for path in files:
        known = [*shipped, *(b for f in frames for b in f["bloc"].to_list())]
        frames.append(read_bloc_file(path, shipped_blocs=known))
    return pl.concat(frames)


def _as_one(
    r: SpecReader,
    value: object,
    members: CountrySet | None,
    user: pl.DataFrame | None,
    on: dt.date,
) -> tuple[str, ...]:
    """The study's ``as_one`` blocs, checked: bloc ids among the members, disjoint."""
    if value is None:
        return ()
    allowed = "a list of bloc ids among the members, e.g. [EU]"
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        r.fail("as_one", value, "must be a list of bloc ids", allowed)
        return ()
    shipped = bloc_ids(alliance_table())
    user_ids = [] if user is None else sorted(set(user["bloc"].to_list()))
    known = [*shipped, *user_ids]
    member_set = set(members.resolve(on)) if members is not None else set()
    seen: dict[str, str] = {}
    for i, bloc in enumerate(value):
        where = f"as_one[{i}]"
        if bloc not in known:
            near = close_matches(bloc, known, 3)
            r.fail(where, bloc, "unknown bloc", ", ".join(near) or allowed)
            continue
        user_rows = () if members is None else members.user_blocs
        countries = CountrySet(blocs=(bloc,), user_blocs=user_rows).resolve(on)
        outside = sorted(set(countries) - member_set)
        if outside:
            r.fail(
                where,
                bloc,
                f"its countries {', '.join(outside)} are not members of the study on {on}",
                "a bloc whose countries are all members",
            )
        twice = sorted(c for c in countries if c in seen)
        if twice:
            r.fail(
                where,
                bloc,
                f"shares {', '.join(twice)} with {seen[twice[0]]} (a country is one node)",
                "disjoint blocs",
            )
        seen.update(dict.fromkeys(countries, bloc))
    return tuple(value)


def load_study(path: str | Path, catalogue: Catalogue | str | Path | None = None) -> StudySpec:
    """Read and validate a study file and the catalogue it draws scenarios from.

    Parameters
    ----------
    path
        The study YAML file.
    catalogue
        A catalogue (or its path) to use instead of the study's ``catalogue`` key, whose
        default is ``scenarios.yaml`` next to the study file.

    Raises
    ------
    SpecError
        Every problem found in the study (file, key path, value, allowed values), or in
        the catalogue it names; unknown scenario names and conflicting compositions.
    """
    p = Path(path)
    raw = read_yaml(p)
    r = SpecReader(p)
    d = r.mapping(raw, "", [f.name for f in dataclasses.fields(StudySpec)][1:])
    name = r.text(d, "name", "")
    description = r.text(d, "description", "", required=False) or ""
    year = d.get("year")
    if not isinstance(year, int) or isinstance(year, bool) or not 1990 <= year <= 2100:
        r.fail("year", year, "must be a trade year", "a whole year, e.g. 2023")
    for k in [k for k in ("members", "allies", "commodities", "model") if k not in d]:
        r.fail(k, None, "required key missing", None)
    bloc_files = r.bloc_files(d.get("bloc_files"), "bloc_files", p.parent)
    r.raise_if_any()
    user = _user_blocs(bloc_files)
    members = r.countries(d["members"], "members", user) if "members" in d else None
    allies = r.countries(d["allies"], "allies", user) if "allies" in d else None
    adversary = r.countries(d["adversary"], "adversary", user) if d.get("adversary") else None
    commodities = r.commodities(d.get("commodities", []), "commodities", need_stage=True)
    model = d.get("model")
    from resilience.optimize.families import FAMILIES  # the registry (imports the core)

    if "model" in d and model not in FAMILIES:
        near = close_matches(str(model), list(FAMILIES), n=1)
        hint = "".join(f" (did you mean {h}?)" for h in near)
        r.fail("model", model, "unknown model family" + hint, ", ".join(FAMILIES))
    policy = r.knobs(d["policy"], "policy", allow_allies=False) if d.get("policy") else {}
    as_one = _as_one(r, d.get("as_one"), members, user, dt.date(int(year or 2000), 12, 31))
    scenarios = r.texts(d, "scenarios", "")
    base = r.text(d, "base_scenario", "", required=False)
    r.raise_if_any()
    if isinstance(catalogue, Catalogue):
        cat = catalogue
    else:
        cat = load_catalogue(catalogue or _catalogue_path(p, d.get("catalogue")))
    assert name is not None
    assert members is not None
    assert allies is not None
    study = StudySpec(
        path=p,
        name=name,
        description=description,
        year=int(d["year"]),
        members=members,
        allies=allies,
        commodities=tuple((c, str(s)) for c, s in commodities),
        model=str(model),
        catalogue=cat,
        adversary=adversary,
        policy=policy,
        scenarios=scenarios,
        base_scenario=base,
        bloc_files=bloc_files,
        as_one=as_one,
    )
    problems: list[SpecProblem] = []
    for i, expr in enumerate((*scenarios, *([base] if base else []))):
        key = f"scenarios[{i}]" if i < len(scenarios) else "base_scenario"
        try:
            cat.overrides(expr, file=p, key=key)
        except SpecError as exc:
            problems += exc.problems
    if problems:
        raise SpecError(problems)
    study.compose()
    return study


def as_study(study: StudySpec | str | Path) -> StudySpec:
    """``study`` itself, or the study file it names read with :func:`load_study`."""
    return study if isinstance(study, StudySpec) else load_study(study)
