"""Sources and licences: the one line every screen, plot and page that shows data ends with.

The licences are those stated in ``datasets/README.md`` (the data cards); the source
names are the ``source`` columns of the shipped tables. A source with no licence entry
here is named as such in the line (and logged), never left out.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable

import polars as pl

from resilience.paths import datasets_dir

__all__ = ["LICENCES", "credits", "licence_of", "shipped_sources"]

log = logging.getLogger(__name__)

#: (prefix of a ``source`` value, short name shown, licence) from datasets/README.md.
LICENCES: tuple[tuple[str, str, str], ...] = (
    ("CEPII BACI", "CEPII BACI", "Etalab Licence Ouverte 2.0"),
    ("USGS", "USGS", "US public domain"),
    ("World Mining Data", "World Mining Data (BMF)", "free use with attribution"),
    ("IEA Critical Minerals Data Explorer", "IEA Critical Minerals Data Explorer", "CC BY 4.0"),
    ("bp Statistical Review", "bp Statistical Review", "quotation with attribution"),
    ("World Nuclear Association", "World Nuclear Association", "quotation with attribution"),
    ("World Bank WGI", "World Bank WGI", "CC BY 4.0"),
    ("Bailey, Strezhnev & Voeten", "UNGA ideal points (Bailey et al.)", "CC0"),
    ("EU SCRREEN", "EU SCRREEN factsheets", "attribution"),
    (
        "Separated rare earths",
        "separated rare earths (MIIT quotas via Reuters, IEA ratios, USGS)",
        "facts with citation; IEA figures CC BY 4.0",
    ),
    (
        "UN Comtrade",
        "UN Comtrade (built on your machine, never shipped)",
        "UN Comtrade terms: internal use, no re-dissemination",
    ),
)
#: Publishers of single cited figures: table -> its publisher column. Every row of these
#: tables quotes its figure and its url (their data cards), so they are "cited figures".
CITED_FIGURE_TABLES = {
    "sources/compiled_shares.csv": "publisher",
    "chip_capacity.csv": "source",
}
COMPILED = "cited figures"
OWN_WORK = "resilience tables and code: Apache-2.0"


@functools.cache
def _compiled_publishers() -> frozenset[str]:
    found: set[str] = set()
    for name, column in CITED_FIGURE_TABLES.items():
        path = datasets_dir() / name
        if path.is_file():
            found.update(pl.read_csv(path, columns=[column])[column].drop_nulls().to_list())
    return frozenset(found)


def licence_of(source: str) -> tuple[str, str]:
    """``(short name, licence)`` of a ``source`` value of the shipped tables.

    Figures compiled one by one (chips, PV, batteries) come back as
    ``(publisher, "cited figures")``; an unknown source as ``(source, "licence not
    recorded")``.
    """
    for prefix, name, licence in LICENCES:
        if source.startswith(prefix):
            return name, licence
    if source in _compiled_publishers():
        return source, COMPILED
    log.warning("no licence recorded for source %r (datasets/README.md)", source)
    return source, "licence not recorded"


@functools.cache
def shipped_sources() -> tuple[str, ...]:
    """Every ``source`` value of the shipped fact tables (production, trade, WGI, UNGA...)."""
    root = datasets_dir()
    found: set[str] = set()
    for name in (
        "production.csv",
        "governance.csv",
        "alignment.csv",
        "recycling.csv",
        "chip_capacity.csv",
    ):
        path = root / name
        if path.is_file():
            found.update(pl.read_csv(path, columns=["source"])["source"].drop_nulls().to_list())
    trade = root / "trade.parquet"
    if trade.is_file():
        found.update(pl.read_parquet(trade, columns=["source"])["source"].unique().to_list())
    return tuple(sorted(found))


def credits(sources: Iterable[str] | None = None, *, compact: bool = False) -> str:
    """``"Sources and licences: CEPII BACI (Etalab Licence Ouverte 2.0); USGS (...); ..."``.

    Parameters
    ----------
    sources
        ``source`` values behind what is shown (default: every shipped table's sources).
        Sources under one licence entry are named once; cited single figures are
        grouped ("cited figures from IDC, SIA/BCG, ... (each quoted with its url in
        datasets/sources/compiled_shares.csv or datasets/chip_capacity.csv)").
    compact
        Count the publishers of cited figures instead of naming them (for plot footers).
    """
    chosen = shipped_sources() if sources is None else tuple(sources)
    named: dict[str, str] = {}
    cited: set[str] = set()
    for source in chosen:
        name, licence = licence_of(source)
        if licence == COMPILED:
            cited.add(name)
        else:
            named[name] = licence
    parts = [f"{name} ({licence})" for name, licence in sorted(named.items())]
    if cited:
        who = f"{len(cited)} publishers" if compact else ", ".join(sorted(cited))
        where = " or ".join(f"datasets/{name}" for name in CITED_FIGURE_TABLES)
        parts.append(f"{COMPILED} from {who} (each quoted with its url in {where})")
    return "Sources and licences: " + "; ".join([*parts, OWN_WORK]) + "."
