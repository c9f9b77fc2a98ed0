"""Schemas of the chip tables: Taiwan's IC exports (shipped) and the ETO supply chain (local).

* :class:`TaiwanChipExports` -- ``datasets/taiwan_chip_exports.parquet``, Taiwan's
  exports of HS 8542 by destination and 11-digit CCC code (Taiwan customs), shipped;
* :class:`EtoChipSupplyChain` -- ``datasets/eto_chip_supply_chain.parquet``, the CSET/ETO
  chip-supply-chain shares (CC BY-NC 4.0), built only from a user's copy and never
  shipped.

Card of each: ``datasets/sources/taiwan_customs.md`` and ``datasets/sources/eto.md``.
"""

from __future__ import annotations

import dataframely as dy

from resilience.schemas.tables import ISO3_PATTERN

__all__ = [
    "CHIP_SEGMENTS",
    "ETO_PROVIDER_KINDS",
    "EtoChipSupplyChain",
    "TaiwanChipExports",
]

#: Segments of HS 8542 (HS 2017/2022 subheadings 854231-854239, 854290).
CHIP_SEGMENTS = (
    "processors_controllers",
    "memories",
    "amplifiers",
    "other_integrated_circuits",
    "parts_and_lead_frames",
)

#: What an ETO provider row stands for: a country (capacity or market by location or
#: nationality, as ETO publishes it), a firm (with its headquarters country), a region
#: (ETO's ``EUR``) or an unnamed group (``Various countries``).
ETO_PROVIDER_KINDS = ("country", "firm", "region", "unspecified")


class TaiwanChipExports(dy.Schema):
    """Taiwan's exports of electronic integrated circuits (HS 8542) by destination.

    ``importer_iso3`` is the ISO3 code of the destination, or ``ROW`` for Taiwan
    customs' "other countries" (其他國家) row. ``value_usd`` is FOB, as published
    (0 where customs publishes 0). ``is_partial_year`` marks a year the extract was taken
    in (not yet over).
    """

    year = dy.Int32(nullable=False, primary_key=True, min=1990, max=2100)
    exporter_iso3 = dy.String(nullable=False, regex=r"^TWN$")
    importer_iso3 = dy.String(nullable=False, primary_key=True, regex=ISO3_PATTERN)
    ccc_code = dy.String(nullable=False, primary_key=True, regex=r"^8542\d{7}$")
    hs6_code = dy.String(nullable=False, regex=r"^8542\d{2}$")
    segment = dy.Enum(CHIP_SEGMENTS, nullable=False)
    ccc_description = dy.String(nullable=False)
    value_usd = dy.Float64(nullable=False, min=0)
    is_partial_year = dy.Bool(nullable=False)
    source = dy.String(nullable=False)
    vintage = dy.String(nullable=False)


class EtoChipSupplyChain(dy.Schema):
    """One ETO ``provision.csv`` row: who provides how much of a chip input or stage.

    ``provided_id`` is an input (``N..``) or a stage (``S1``-``S3``); ``provided_type``
    its ETO type (``process``, ``tool_resource``, ``material_resource``,
    ``design_resource``, ``ultimate_output``) or ``stage``. ``country_iso3`` is the
    provider country for country rows and the firm's headquarters for firm rows
    (``country_basis`` says which); null for ``EUR`` and ``Various countries``.
    ``share_pct`` is the percent of the global market; null where ETO only records that
    the provider provides it. ``goes_into_ids`` / ``is_type_of_ids`` are the input's
    edges in ``sequence.csv`` (``;``-separated). The stored table also carries
    ``source_row``, the row's line in ``source_file`` (``provision.csv``).
    """

    year = dy.Int32(nullable=False, primary_key=True, min=1990, max=2100)
    provided_id = dy.String(nullable=False, primary_key=True, regex=r"^(N\d+|S\d+)$")
    provider_id = dy.String(nullable=False, primary_key=True, regex=r"^P\d+$")
    provided_name = dy.String(nullable=False)
    provided_type = dy.String(nullable=False)
    stage_id = dy.String(nullable=True, regex=r"^S\d+$")
    stage_name = dy.String(nullable=True)
    provider_name = dy.String(nullable=False)
    provider_kind = dy.Enum(ETO_PROVIDER_KINDS, nullable=False)
    country_iso3 = dy.String(nullable=True, regex=ISO3_PATTERN)
    country_basis = dy.String(nullable=True)
    share_pct = dy.Float64(nullable=True, min=0, max=100)
    goes_into_ids = dy.String(nullable=True)
    is_type_of_ids = dy.String(nullable=True)
    source = dy.String(nullable=True)
    licence = dy.String(nullable=False)
    vintage = dy.String(nullable=False)
    source_file = dy.String(nullable=False)
