"""The upstream files ``resilience data refresh`` reads, and the tables it writes.

Kept free of heavy imports so that the CLI can show the file patterns in ``--help``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "INPUTS",
    "MANIFEST",
    "OPTIONAL_TABLES",
    "TABLES",
    "InputSpec",
    "describe_inputs",
    "parse_use",
    "refresh_help",
]


@dataclass(frozen=True)
class InputSpec:
    """Where an upstream file sits in a download folder.

    ``patterns`` are alternatives in order of preference: the first pattern with hits is
    used (a later one is a fallback format, e.g. the IEA long CSV when the workbook is
    absent). ``many`` sources read several files, each identified by :func:`_identity`
    (USGS: one file per commodity; WMD shares: one per year; BACI: one per year or one
    multi-year extract); two files with one identity are two candidates.
    """

    key: str
    patterns: tuple[str, ...]
    required: bool = True
    many: bool = False


INPUTS: tuple[InputSpec, ...] = (
    InputSpec("usgs_2025", ("MCS2025_World_Data.csv",)),
    InputSpec("usgs_2024", ("mcs2024-*_world.csv", "MCS2024-*_world.csv"), many=True),
    InputSpec("usgs_2023", ("mcs2023-*_world.csv", "MCS2023-*_world.csv"), many=True),
    InputSpec("wmd_production", ("wmd_production_by_country_*_long.csv",)),
    InputSpec("wmd_shares", ("wmd_share_of_world_production_*_long.csv",), many=True),
    InputSpec("wmd_map", ("wmd_commodity_hs_map_eol_rir.csv",)),
    InputSpec("iea", ("CM_Data_Explorer*.xlsx", "iea_cm_supply_by_country_base_case_long.csv")),
    InputSpec("bp", ("bp_statreview_*_energy_minerals_*.csv",)),
    InputSpec("wna", ("uranium_production_*_tU.csv",)),
    InputSpec("wgi", ("wgi_*long.csv",)),
    InputSpec("unga", ("IdealpointestimatesAll_*.csv",)),
    InputSpec(
        "baci_flows", ("baci_hs92_*raw_materials*.parquet", "BACI_HS92_Y*_V*.csv"), many=True
    ),
    InputSpec("baci_codes", ("country_codes_V*.csv",)),
    InputSpec("china_monthly", ("china_exports_by_partner_hs6_monthly_*.csv",), required=False),
    InputSpec("china_tariff_lines", ("hs_map_china_tariff_lines.csv",), required=False),
    InputSpec("eurostat_gas", ("nrg_ti_gas_*_tidy.csv",)),
    InputSpec("taiwan_customs", ("taiwan_exports_8542_by_destination_*.csv",)),
)

#: The tables a refresh writes into ``datasets/`` (besides ``manifest.json``); every
#: other file there is hand-curated and never touched.
TABLES = (
    "production.csv",
    "trade.parquet",
    "trade_repairs.parquet",
    "governance.csv",
    "alignment.csv",
    "recycling.csv",
    "published_hhi.csv",
    "eu_gas_imports_by_origin.csv",
    "taiwan_chip_exports.parquet",
)
#: Tables a refresh writes only when their inputs are present (never shipped: see
#: ``datasets/README.md``).
OPTIONAL_TABLES = ("china_exports_monthly.parquet", "eto_chip_supply_chain.parquet")
MANIFEST = "manifest.json"


def describe_inputs() -> str:
    """One line per source: its key and the file-name patterns searched for."""
    return "\n".join(
        f"{spec.key}: {' or '.join(spec.patterns)}" + (" (several)" if spec.many else "")
        for spec in INPUTS
    )


def refresh_help() -> str:
    """The ``data refresh --help`` text: the files it reads and where it writes."""
    patterns = "\n\n".join(f"  {line}" for line in describe_inputs().splitlines())
    return (
        "Rebuild the shipped tables from a folder of publishers' downloads.\n\n"
        "Reads, from --from DIR (searched recursively), one file per source matching:\n\n"
        f"{patterns}\n\n"
        f"Writes {', '.join(TABLES)} (and {', '.join(OPTIONAL_TABLES)} when its inputs "
        "are there; the ETO table only with --eto DIR) and manifest.json (SHA-256 of "
        "every input and table) "
        "into datasets/ (or $RESILIENCE_DATASETS, or --out), all or nothing: built and "
        "checked first, staged beside the tables, then swapped in; any error leaves the "
        "folder as it was. Other files there (commodities.csv, maps/, sources/ ...) are "
        "never touched. A table that would shrink (rows -10 %, a lost year or commodity, "
        "countries -10 %) is refused unless --allow-shrink. Two candidate files for one "
        "source is an error: pick with --use KEY=PATH."
    )


def parse_use(values: list[str]) -> dict[str, list[Path]]:
    """``["wgi=PATH", ...]`` -> ``{"wgi": [PATH]}``; a malformed value is an error."""
    use: dict[str, list[Path]] = {}
    for value in values:
        key, sep, path = value.partition("=")
        if not sep or not key.strip() or not path.strip():
            raise ValueError(
                f"--use takes KEY=PATH (e.g. --use wgi=downloads/x.csv), not {value!r}"
            )
        use.setdefault(key.strip(), []).append(Path(path.strip()))
    return use
