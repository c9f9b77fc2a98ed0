"""Load the shipped default tables from ``datasets/`` (validated on read).

Each loader reads one table written by :mod:`resilience.ingest.refresh`, validates it
against its schema (so a hand-edited file with a bad row fails with the file, row, column
and value) and returns a Polars frame. ``RESILIENCE_DATASETS`` points them at another
folder.

Before reading, each loader checks the file against the SHA-256 in its folder's
``manifest.json`` and finishes an interrupted refresh
(:func:`resilience.manifest_check.verify_table`): a mismatch is a logged warning, not an
error.
"""

from __future__ import annotations

from pathlib import Path

import dataframely as dy
import polars as pl

from resilience.errors import DataError
from resilience.manifest_check import verify_table
from resilience.paths import datasets_dir
from resilience.schemas.tables import Alignment, Governance, Production, Recycling
from resilience.schemas.validate import ROW_COLUMN as ROW
from resilience.schemas.validate import validate_frame

__all__ = [
    "eto_chip_supply_chain_available",
    "load_alignment",
    "load_china_exports_monthly",
    "load_eto_chip_supply_chain",
    "load_eu_gas_imports_by_origin",
    "load_governance",
    "load_production",
    "load_published_hhi",
    "load_recycling",
    "load_taiwan_chip_exports",
    "load_trade",
    "scan_trade",
]


def _read_csv(schema: type[dy.Schema], path: Path) -> pl.DataFrame:
    verify_table(path)
    raw = pl.read_csv(path, infer_schema=False)
    bools = [
        c for c, col in schema.columns().items() if isinstance(col, dy.Bool) and c in raw.columns
    ]
    raw = raw.with_columns(
        pl.col(bools).str.to_lowercase().replace_strict({"true": True, "false": False})
    )
    return validate_frame(schema, raw, file=path.name).drop("source_row")


def load_production(path: Path | None = None) -> pl.DataFrame:
    """Production by (year, commodity, stage, country, source); see ``datasets/README.md``."""
    return _read_csv(Production, path or datasets_dir() / "production.csv")


def load_governance(path: Path | None = None) -> pl.DataFrame:
    """World Bank WGI estimates by (year, country, indicator)."""
    return _read_csv(Governance, path or datasets_dir() / "governance.csv")


def load_alignment(path: Path | None = None) -> pl.DataFrame:
    """UNGA ideal points by (year, country)."""
    return _read_csv(Alignment, path or datasets_dir() / "alignment.csv")


def load_recycling(path: Path | None = None) -> pl.DataFrame:
    """End-of-life recycling input rates by (commodity, stage)."""
    return _read_csv(Recycling, path or datasets_dir() / "recycling.csv")


def load_published_hhi(path: Path | None = None) -> pl.DataFrame:
    """HHI values as World Mining Data prints them (0-10 000), for validation."""
    path = path or datasets_dir() / "published_hhi.csv"
    verify_table(path)
    return pl.read_csv(path)


def scan_trade(path: Path | None = None) -> pl.LazyFrame:
    """Bilateral trade by (year, importer, commodity, stage, supplier), lazily."""
    path = path or datasets_dir() / "trade.parquet"
    verify_table(path)
    return pl.scan_parquet(path)


def load_trade(path: Path | None = None) -> pl.DataFrame:
    """Bilateral trade by (year, importer, commodity, stage, supplier), from CEPII BACI."""
    return scan_trade(path).collect()


def load_eu_gas_imports_by_origin(path: Path | None = None) -> pl.DataFrame:
    """Eurostat gas imports from Russia and in total (``WLD``), TJ GCV and million m3."""
    from resilience.build.monthly import EU_GAS_IMPORTS, EuGasImports

    path = path or datasets_dir() / EU_GAS_IMPORTS
    verify_table(path)
    raw = pl.read_csv(path, schema_overrides={"flag": pl.String, "year": pl.Int32})
    return validate_frame(EuGasImports, raw.with_row_index(ROW, offset=2), file=path.name).drop(ROW)


def load_china_exports_monthly(path: Path | None = None) -> pl.DataFrame:
    """China's monthly exports by partner and HS line (a local table, not shipped).

    Raises
    ------
    resilience.errors.DataError
        The table is absent: it is built by ``resilience data refresh`` from UN Comtrade
        data that may not be redistributed (``datasets/README.md``).
    """
    from resilience.build.monthly import CHINA_EXPORTS_MONTHLY, ChinaExportsMonthly

    path = path or datasets_dir() / CHINA_EXPORTS_MONTHLY
    if not path.exists():
        raise DataError.single(
            str(path),
            None,
            "(table)",
            None,
            "China's monthly exports are not shipped (UN Comtrade terms); build them with "
            "`resilience data refresh --from DIR` where DIR holds "
            "china_exports_by_partner_hs6_monthly_*.csv and hs_map_china_tariff_lines.csv",
        )
    verify_table(path)
    raw = pl.read_parquet(path).with_row_index(ROW, offset=1)
    return validate_frame(ChinaExportsMonthly, raw, file=path.name).drop(ROW)


def load_taiwan_chip_exports(path: Path | None = None) -> pl.DataFrame:
    """Taiwan's exports of HS 8542 by (year, destination, CCC code), FOB USD.

    Taiwan customs (``datasets/sources/taiwan_customs.md``); ``importer_iso3`` ``ROW`` is
    customs' "other countries"; ``is_partial_year`` marks the year the extract was taken.
    """
    from resilience.ingest.taiwan_customs import TAIWAN_CHIP_EXPORTS
    from resilience.schemas.chip_trade import TaiwanChipExports

    path = path or datasets_dir() / TAIWAN_CHIP_EXPORTS
    verify_table(path)
    raw = pl.read_parquet(path).with_row_index(ROW, offset=1)
    return validate_frame(TaiwanChipExports, raw, file=path.name).drop(ROW)


def load_eto_chip_supply_chain(path: Path | None = None) -> pl.DataFrame:
    """The CSET/ETO chip supply-chain shares (a local table, never shipped).

    One row per ETO ``provision.csv`` row (``datasets/sources/eto.md``), with its line
    there in ``source_row``. Callers for whom ETO is optional catch the error (or test
    ``eto_chip_supply_chain_available()``) and go on without it.

    Raises
    ------
    resilience.errors.DataError
        The table is absent: the ETO dataset is CC BY-NC 4.0 and is not shipped; a user
        who has it builds the table with ``resilience data refresh --eto DIR``.
    """
    from resilience.ingest.eto import ETO_CHIP_SUPPLY_CHAIN
    from resilience.schemas.chip_trade import EtoChipSupplyChain

    path = path or datasets_dir() / ETO_CHIP_SUPPLY_CHAIN
    if not path.exists():
        raise DataError.single(
            str(path),
            None,
            "(table)",
            None,
            "the ETO chip supply-chain table is not shipped (CC BY-NC 4.0); build it from "
            "your copy of georgetown-cset/eto-chip-explorer data/ with `resilience data "
            "refresh --from DIR --eto ETO_DIR` (ETO_DIR holds stages.csv, inputs.csv, "
            "providers.csv, provision.csv, sequence.csv)",
        )
    verify_table(path)
    raw = pl.read_parquet(path)
    return validate_frame(EtoChipSupplyChain, raw, file=path.name)


def eto_chip_supply_chain_available(path: Path | None = None) -> bool:
    """Whether the local ETO table has been built (see :func:`load_eto_chip_supply_chain`)."""
    from resilience.ingest.eto import ETO_CHIP_SUPPLY_CHAIN

    return (path or datasets_dir() / ETO_CHIP_SUPPLY_CHAIN).exists()
