"""Report definitions: which tables and which studies' scenarios a report holds.

A definition is a YAML file in ``reports/`` (format in ``reports/README.md``)::

    name: weekly
    description: G7 and EU exposure, the catalogue's scenarios and the frontier.
    output: weekly                  # optional sub-folder of --out (inside it, always)
    tables: [dependency, metrics, scenarios, scenario_summary, scenario_members, frontier]
    dependency:                     # rows of the dependency and metrics tables
      importers: G7+EU              # bloc expression or list; default: every importer
      commodities: [cobalt, graphite/mining]   # default: every commodity
    studies:
      - study: ../models/g7_critical_minerals.yaml   # relative to this file
        scenarios: catalogue        # study (default) | catalogue | [a, b+c, ...] | []
                                    # (the base case is always run first)
        frontier:
          scenario: null            # expression the frontier is traced under
          points: 11                # caps evenly from 1 down to the least feasible cap
          # shares: [1.0, 0.5, 0.0] # or the caps themselves
    top_risks: 15                   # rows of the top-risk table of summary.html
    ranking:                        # with the table ``ranking`` (or --rank-importer)
      importer: USA                 # a country or bloc
      commodities: [graphite/mining]   # default: every good a catalogue event names
      catalogue: ../models/scenarios.yaml   # default: the project's catalogue

Every rejected value raises :class:`resilience.scenarios.SpecError` naming the file, the
key path, the value and what is allowed, like the study files. Unknown tables, studies
and scenarios come with close matches. The ``output`` folder must stay inside the
output directory: absolute paths, ``..`` and symbolic links leading outside are refused
(:func:`report_root`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any

from resilience.paths import project_root
from resilience.scenarios import (
    CountrySet,
    SpecError,
    SpecProblem,
    SpecReader,
    StudySpec,
    load_study,
    read_yaml,
)
from resilience.specs import close_matches

__all__ = [
    "BASE",
    "DEFAULT_DEFINITION",
    "ALL_TABLES",
    "OPTIONAL_TABLES",
    "TABLE_NAMES",
    "FrontierSpec",
    "RankingSpec",
    "ReportDefinition",
    "StudyEntry",
    "load_definition",
    "report_root",
    "with_ranking",
]

log = logging.getLogger(__name__)

#: Tables a report holds by default (no ``tables:``), in the order they are written.
TABLE_NAMES = (
    "dependency",
    "metrics",
    "scenarios",
    "scenario_summary",
    "scenario_members",
    "frontier",
)
#: Tables a report holds only when asked (never by default): the ranking solves one
#: market per good (``ranking`` section, or ``--rank-importer``).
OPTIONAL_TABLES = ("ranking",)
#: Every table a report can hold, in the order they are written.
ALL_TABLES = (*TABLE_NAMES, *OPTIONAL_TABLES)
#: Tables computed from the studies (a definition holding one needs ``studies``).
STUDY_TABLES = ("scenarios", "scenario_summary", "scenario_members", "frontier")
#: The name of a study's base case in a definition and in the ``scenarios`` table.
BASE = "base"
#: The definition used when ``--definition`` is omitted.
DEFAULT_DEFINITION = project_root() / "reports" / "weekly.yaml"
#: ``scenarios:`` keywords of a study entry.

_NAME = re.compile(r"^[a-z][a-z0-9_-]*$")
_KEYS = [
    "name",
    "description",
    "output",
    "tables",
    "dependency",
    "studies",
    "top_risks",
    "ranking",
]
_RANKING_KEYS = ["importer", "commodities", "catalogue"]
#: The catalogue a ranking weighs when the definition names none.
DEFAULT_CATALOGUE = project_root() / "models" / "scenarios.yaml"
_STUDY_KEYS = ["study", "scenarios", "frontier"]
_FRONTIER_KEYS = ["scenario", "shares", "points"]


@dataclass(frozen=True)
class FrontierSpec:
    """The cost-exposure frontier of one study: scenario and grid of caps.

    ``shares=None``: ``points`` caps evenly from 1 down to the least feasible cap
    (:func:`resilience.sweeps.frontier` finds it by bisection).
    """

    scenario: str | None = None
    shares: tuple[float, ...] | None = None
    points: int = 11


@dataclass(frozen=True)
class StudyEntry:
    """One study of a report: the study, its scenario expressions and its frontier.

    ``scenarios`` always starts with :data:`BASE` (the study's base case).
    ``frontier=None``: no frontier for this study.
    """

    study: StudySpec
    scenarios: tuple[str, ...]
    frontier: FrontierSpec | None


@dataclass(frozen=True)
class RankingSpec:
    """The ranking table of a report (:func:`resilience.ranking.rank_commodities`).

    ``commodities=None``: every good a risk event of ``catalogue`` names
    (:func:`resilience.ranking.named_goods`). The trade year is the report's data year.
    """

    importer: CountrySet
    label: str
    catalogue: Path
    commodities: tuple[tuple[str, str], ...] | None = None


@dataclass(frozen=True)
class ReportDefinition:
    """A validated report definition (:func:`load_definition`)."""

    path: Path
    name: str
    description: str
    tables: tuple[str, ...]
    output: PurePosixPath | None = None
    importers: CountrySet | None = None
    commodities: tuple[tuple[str, str | None], ...] | None = None
    studies: tuple[StudyEntry, ...] = ()
    top_risks: int = 15
    input_files: tuple[Path, ...] = field(default=())
    ranking: RankingSpec | None = None

    def has(self, table: str) -> bool:
        """Whether the report holds ``table``."""
        return table in self.tables


def _close(word: str, vocabulary: Sequence[str]) -> str:
    hint = close_matches(word, vocabulary)
    return ("close matches: " + ", ".join(hint) + "; ") if hint else ""


def _output(r: SpecReader, raw: object) -> PurePosixPath | None:
    """The ``output`` sub-folder: relative, no ``..``, no drive, plain names only."""
    if raw is None:
        return None
    allowed = "a relative folder inside the output directory, e.g. weekly or g7/weekly"
    if not isinstance(raw, str) or not raw.strip():
        r.fail("output", raw, "must be a folder name", allowed)
        return None
    text = raw.strip()
    posix, windows = PurePosixPath(text), PureWindowsPath(text)
    if posix.is_absolute() or windows.is_absolute() or windows.drive or text.startswith("~"):
        r.fail("output", raw, "absolute path: reports stay inside the output directory", allowed)
        return None
    parts = [p for p in re.split(r"[/\\]", text) if p not in ("", ".")]
    if ".." in parts:
        r.fail("output", raw, "'..' leads outside the output directory", allowed)
        return None
    bad = [p for p in parts if p.startswith(".") or p.startswith("as_of=") or "\0" in p]
    if bad or not parts:
        r.fail(
            "output",
            raw,
            "folder names may not start with '.' or 'as_of=' (reserved for the report's "
            "own staging and partitions)",
            allowed,
        )
        return None
    return PurePosixPath(*parts)


def _tables(r: SpecReader, raw: object) -> tuple[str, ...]:
    allowed = ", ".join(ALL_TABLES)
    if raw is None:
        return TABLE_NAMES
    if not isinstance(raw, list) or not raw:
        r.fail("tables", raw, "must be a non-empty list of table names", allowed)
        return ()
    found: list[str] = []
    for i, name in enumerate(raw):
        if name not in ALL_TABLES:
            r.fail(f"tables[{i}]", name, "unknown table", _close(str(name), ALL_TABLES) + allowed)
        elif name not in found:
            found.append(name)
    return tuple(t for t in ALL_TABLES if t in found)


def _study_path(r: SpecReader, definition: Path, raw: object, key: str) -> Path | None:
    shipped = sorted((project_root() / "models").glob("*.yaml"))
    examples = ", ".join(
        str(Path("..") / "models" / p.name) for p in shipped if p.name != "scenarios.yaml"
    )
    allowed = f"a study file, relative to the definition file (shipped: {examples})"
    if not isinstance(raw, str) or not raw.strip():
        r.fail(key, raw, "must be a path", allowed)
        return None
    path = Path(raw.strip()).expanduser()
    path = path if path.is_absolute() else definition.parent / path
    if not path.is_file():
        r.fail(key, raw, f"no such study file ({path})", allowed)
        return None
    return path.resolve()


def _scenarios(r: SpecReader, study: StudySpec, raw: object, key: str) -> tuple[str, ...]:
    """The study's scenario expressions, each checked against its catalogue."""
    allowed = (
        f"'study' (its scenarios list), 'catalogue' (every scenario of "
        f"{study.catalogue.path.name}), or a list of names/compositions from: "
        + ", ".join([BASE, *sorted(study.catalogue.scenarios)])
    )
    if raw is None or raw == "study":
        exprs = list(study.scenarios)
    elif raw == "catalogue":
        exprs = sorted(study.catalogue.scenarios)
    elif isinstance(raw, list) and all(isinstance(x, str) and x.strip() for x in raw):
        exprs = [x.strip() for x in raw]
        for i, expr in enumerate(exprs):
            if expr == BASE:
                continue
            try:
                study.catalogue.overrides(expr, file=r.file, key=f"{key}[{i}]")
            except SpecError as exc:
                r.problems.extend(exc.problems)
    else:
        r.fail(key, raw, "unknown scenario selection", allowed)
        return ()
    return tuple(dict.fromkeys([BASE, *exprs]))


def _shares(r: SpecReader, raw: object, key: str) -> tuple[float, ...] | None:
    allowed = "a non-empty list of distinct numbers in [0, 1], e.g. [1.0, 0.5, 0.0]"
    if raw is None:
        return None
    if not isinstance(raw, list) or not raw:
        r.fail(key, raw, "must be a list of numbers", allowed)
        return ()
    out: list[float] = []
    for i, x in enumerate(raw):
        if isinstance(x, bool) or not isinstance(x, int | float) or not 0.0 <= x <= 1.0:
            r.fail(f"{key}[{i}]", x, "must be a number in [0, 1]", allowed)
        elif float(x) in out:
            r.fail(f"{key}[{i}]", x, "given twice", allowed)
        else:
            out.append(float(x))
    return tuple(out)


def _frontier(
    r: SpecReader, study: StudySpec, raw: object, key: str, wanted: bool
) -> FrontierSpec | None:
    if raw is False or not wanted:
        return None
    if raw is None or raw is True:
        return FrontierSpec()
    d = r.mapping(raw, key, _FRONTIER_KEYS)
    scenario = d.get("scenario")
    if scenario is not None:
        if not isinstance(scenario, str) or not scenario.strip():
            r.fail(f"{key}.scenario", scenario, "must be a scenario expression", "a+b or null")
            scenario = None
        elif scenario.strip() == BASE:
            scenario = None
        else:
            scenario = scenario.strip()
            try:
                study.catalogue.overrides(scenario, file=r.file, key=f"{key}.scenario")
            except SpecError as exc:
                r.problems.extend(exc.problems)
    points = d.get("points", 11)
    if isinstance(points, bool) or not isinstance(points, int) or not 2 <= points <= 101:
        r.fail(f"{key}.points", points, "must be a whole number", "an integer in [2, 101]")
        points = 11
    if "points" in d and d.get("shares") is not None:
        r.fail(f"{key}.points", points, "give shares or points, not both", "one of them")
    shares = _shares(r, d.get("shares"), f"{key}.shares")
    return FrontierSpec(scenario=scenario, shares=shares, points=points)


def _study_entry(
    r: SpecReader, path: Path, item: object, key: str, tables: tuple[str, ...]
) -> StudyEntry | None:
    d = r.mapping(item, key, _STUDY_KEYS)
    if not d:
        return None
    if "study" not in d:
        r.fail(f"{key}.study", None, "required key missing", "a study file")
        return None
    study_path = _study_path(r, path, d["study"], f"{key}.study")
    if study_path is None:
        return None
    try:
        study = load_study(study_path)
    except SpecError as exc:
        r.problems.extend(exc.problems)
        return None
    scenarios = _scenarios(r, study, d.get("scenarios"), f"{key}.scenarios")
    frontier = _frontier(r, study, d.get("frontier"), f"{key}.frontier", "frontier" in tables)
    return StudyEntry(study, scenarios, frontier)


def _studies(
    r: SpecReader, path: Path, raw: object, tables: tuple[str, ...]
) -> tuple[list[StudyEntry], list[Path]]:
    need = [t for t in tables if t in STUDY_TABLES]
    if raw is None:
        if need:
            r.fail(
                "studies",
                None,
                f"required by the tables {', '.join(need)}",
                "a list of {study: <file>, scenarios: ..., frontier: ...}",
            )
        return [], []
    if not isinstance(raw, list) or not raw:
        r.fail("studies", raw, "must be a non-empty list", "a list of {study: <file>, ...}")
        return [], []
    entries: list[StudyEntry] = []
    files: list[Path] = []
    for i, item in enumerate(raw):
        entry = _study_entry(r, path, item, f"studies[{i}]", tables)
        if entry is not None:
            entries.append(entry)
            files += [entry.study.path.resolve(), entry.study.catalogue.path.resolve()]
    names = [e.study.name for e in entries]
    for i, name in enumerate(names):
        if name in names[:i]:
            r.fail(f"studies[{i}].study", name, "study given twice", "each study once")
    return entries, files


def load_definition(path: str | Path | None = None) -> ReportDefinition:
    """Read and validate a report definition (default: ``reports/weekly.yaml``).

    Raises
    ------
    SpecError
        Every problem found: unknown keys and tables, unknown or invalid study files,
        unknown scenarios (with close matches), a bad ``output`` folder.
    """
    p = Path(path) if path is not None else DEFAULT_DEFINITION
    if not p.is_file():
        raise SpecError.single(
            p,
            "(file)",
            str(p),
            "no such report definition",
            "a YAML file, e.g. reports/weekly.yaml",
        )
    raw = read_yaml(p)
    r = SpecReader(p)  # messages name the file as the user gave it
    p = p.resolve()
    d: dict[str, Any] = r.mapping(raw, "", _KEYS)
    name = r.text(d, "name", "")
    if name is not None and not _NAME.match(name):
        r.fail("name", name, "bad report name", "lower-case letters, digits, '_' and '-'")
    description = r.text(d, "description", "", required=False) or ""
    output = _output(r, d.get("output"))
    tables = _tables(r, d.get("tables"))
    importers: CountrySet | None = None
    commodities: tuple[tuple[str, str | None], ...] | None = None
    if d.get("dependency") is not None:
        dep = r.mapping(d["dependency"], "dependency", ["importers", "commodities"])
        if dep.get("importers") is not None:
            importers = r.countries(dep["importers"], "dependency.importers")
        if dep.get("commodities") is not None:
            commodities = r.commodities(dep["commodities"], "dependency.commodities", False)
    top = d.get("top_risks", 15)
    if isinstance(top, bool) or not isinstance(top, int) or not 1 <= top <= 200:
        r.fail("top_risks", top, "must be a whole number", "an integer in [1, 200]")
        top = 15
    studies, files = _studies(r, p, d.get("studies"), tables)
    ranking = _ranking(r, p, d.get("ranking"), "ranking" in tables)
    r.raise_if_any()
    assert name is not None
    log.info("report definition %s: tables %s, %d studies", p, ", ".join(tables), len(studies))
    return ReportDefinition(
        path=p,
        name=name,
        description=description,
        tables=tables,
        output=output,
        importers=importers,
        commodities=commodities,
        studies=tuple(studies),
        top_risks=int(top),
        input_files=tuple(
            dict.fromkeys([p, *files, *([ranking.catalogue] if ranking is not None else [])])
        ),
        ranking=ranking,
    )


def _ranking(r: SpecReader, path: Path, raw: object, wanted: bool) -> RankingSpec | None:
    """The ``ranking`` section (required by the table ``ranking``, ignored without it)."""
    if raw is None:
        if wanted:
            r.fail("ranking", None, "required by the table ranking", "ranking: {importer: USA}")
        return None
    d = r.mapping(raw, "ranking", _RANKING_KEYS)
    if not wanted:
        r.fail("ranking", "(section)", "given without the table ranking", "add ranking to tables")
        return None
    if d.get("importer") is None:
        r.fail("ranking.importer", None, "required key missing", "a country or bloc, e.g. USA")
        return None
    importer = r.countries(d["importer"], "ranking.importer")
    goods = None
    if d.get("commodities") is not None:
        pairs = r.commodities(d["commodities"], "ranking.commodities", True)
        goods = tuple((c, s) for c, s in pairs if s is not None)
    catalogue = DEFAULT_CATALOGUE
    if d.get("catalogue") is not None:
        given = d["catalogue"]
        catalogue = (path.parent / str(given)).resolve()
        if not isinstance(given, str) or not catalogue.is_file():
            r.fail("ranking.catalogue", given, "no such file", "a path relative to the definition")
            return None
    if importer is None:
        return None
    label = d["importer"] if isinstance(d["importer"], str) else str(importer)
    return RankingSpec(importer, label, catalogue, goods)


def with_ranking(definition: ReportDefinition, importer: str) -> ReportDefinition:
    """``definition`` with the table ``ranking`` for ``importer`` (``--rank-importer``).

    The ranking weighs the project's catalogue over every good a risk event names,
    unless the definition has its own ``ranking`` section (its goods and catalogue are
    kept, the importer replaced).

    Raises
    ------
    SpecError
        An unknown country or bloc (named ``--rank-importer``).
    """
    r = SpecReader(Path("--rank-importer"))
    who = r.countries(importer, "importer")
    r.raise_if_any()
    assert who is not None
    old = definition.ranking
    spec = RankingSpec(
        who,
        importer,
        DEFAULT_CATALOGUE if old is None else old.catalogue,
        None if old is None else old.commodities,
    )
    tables = definition.tables if definition.has("ranking") else (*definition.tables, "ranking")
    files = tuple(dict.fromkeys([*definition.input_files, spec.catalogue]))
    return replace(definition, tables=tables, ranking=spec, input_files=files)


def report_root(definition: ReportDefinition, out_dir: str | Path) -> Path:
    """The folder the report's partitions go to: ``out_dir[/output]``, confined.

    The output directory is resolved first (a symbolic link given as ``--out`` is the
    user's choice); the definition's ``output`` folder, once resolved with every
    existing symbolic link followed, must stay inside it.

    Raises
    ------
    SpecError
        ``output`` leads outside the output directory (through a symbolic link).
    """
    base = Path(out_dir).expanduser().resolve()
    if definition.output is None:
        return base
    target = (base / definition.output).resolve()
    if target != base and base not in target.parents:
        raise SpecError(
            [
                SpecProblem(
                    str(definition.path),
                    "output",
                    str(definition.output),
                    f"leads outside the output directory {base} (to {target}, through a "
                    "symbolic link)",
                    "a folder inside the output directory",
                )
            ]
        )
    return target
