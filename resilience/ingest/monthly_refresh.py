"""The refresh steps for China's monthly exports and Eurostat gas imports by origin.

The Eurostat extract is a required input of ``resilience data refresh``; China's
monthly exports are optional (a download folder without them refreshes the other tables
and leaves the local China table as it is), and China's tariff-line list must come with
its flows (one without the other is an error).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

import polars as pl

from resilience.build.monthly import (
    CHINA_EXPORTS_MONTHLY,
    EU_GAS_IMPORTS,
    build_china_exports_monthly,
    build_eu_gas_imports_by_origin,
    load_china_monthly_map,
    load_gas_heat_content,
)
from resilience.errors import DataError
from resilience.ingest import china_monthly, eurostat
from resilience.reference.commodities import load_commodities

__all__ = ["CHINA_MONTHLY_VINTAGE", "EUROSTAT_GAS_VINTAGE", "monthly_tables"]

log = logging.getLogger(__name__)

#: The collector's tables were last changed in December 2025 (SOURCE.md).
CHINA_MONTHLY_VINTAGE = "2025-12"
#: Eurostat's extract: data of 23 March 2022, extracted 5 April 2022.
EUROSTAT_GAS_VINTAGE = "2022-03-23"


def _gas_unit() -> str:
    row = load_commodities().filter(
        (pl.col("commodity") == "natural_gas") & (pl.col("stage") == "mining")
    )
    return str(row["unit"][0])


def monthly_tables(
    inputs: dict[str, list[Path]], say: Callable[[str], None]
) -> dict[str, pl.DataFrame]:
    """Build the EU gas table and, when its inputs are present, China's monthly exports.

    Raises
    ------
    resilience.errors.DataError
        China's flows without its tariff-line list (or the reverse), and any rejected
        value in either source.
    """
    tables: dict[str, pl.DataFrame] = {}
    flows, lines = inputs.get("china_monthly", []), inputs.get("china_tariff_lines", [])
    if bool(flows) != bool(lines):
        keys = ("china_monthly", "china_tariff_lines")
        present, absent = keys if flows else keys[::-1]
        raise DataError.single(
            str((flows or lines)[0]),
            None,
            absent,
            None,
            f"{present} is present but {absent} is not: China's monthly exports need both",
        )
    if flows:
        say("China's monthly exports by partner: UN Comtrade")
        tariff = china_monthly.read_tariff_lines(lines[0])
        read = china_monthly.read_china_monthly_exports(flows[0], tariff)
        tables[CHINA_EXPORTS_MONTHLY] = build_china_exports_monthly(
            read,
            load_china_monthly_map(),
            file=flows[0],
            source=china_monthly.SOURCE,
            vintage=CHINA_MONTHLY_VINTAGE,
        )
    else:
        log.info("no China monthly exports found: the local China table is left as it is")
    say("gas imports by origin: Eurostat nrg_ti_gas")
    tables[EU_GAS_IMPORTS] = build_eu_gas_imports_by_origin(
        eurostat.read_nrg_ti_gas(inputs["eurostat_gas"][0]),
        load_gas_heat_content(),
        commodity_unit=_gas_unit(),
        source=eurostat.SOURCE,
        vintage=EUROSTAT_GAS_VINTAGE,
    )
    return tables
