"""China's exports as ``bilateral_china_only`` rows of the yearly dependency and of risk.

Unit tests use the shipped map and made-up rows; the integration tests build China's
table from ``shared_data`` with the refresh step (``monthly_tables``) into a temporary
datasets folder and query risk on it (skipped when the real files are absent). Without
the table (the shipped default) nothing changes: checked on the shipped data.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from resilience.build.china_bilateral import (
    BASIS_NOTE,
    CHINA_CONTENT_BASIS,
    CHINA_ONLY_BASIS,
    china_only_groups,
    label_china_only,
    mixed_line_notes,
)
from resilience.build.monthly import CHINA_EXPORTS_MONTHLY, load_china_monthly_map
from resilience.build.pipeline import collect_year, load_inputs
from resilience.paths import datasets_dir
from resilience.risk import RiskQuery, risk_table

COMMODITIES = ["gallium", "germanium", "graphite"]


# ----------------------------------------------------------------------------- unit
def test_the_mixed_811292_line_is_named_for_gallium_and_germanium_not_graphite() -> None:
    notes = mixed_line_notes(load_china_monthly_map())
    got = {(c, s): n for c, s, n in notes.iter_rows()}
    assert set(got) == {("gallium", "refining"), ("germanium", "refining")}
    assert (
        "HS 811292 (Ga+Ge+In+Nb+V metal) also counts for germanium/refining"
        in (got[("gallium", "refining")])
    )
    assert got[("germanium", "refining")].endswith("an upper bound for germanium")


def _rows() -> pl.DataFrame:
    """Two importers: USA's gallium from China's table, DEU's gallium from BACI."""
    return pl.DataFrame(
        {
            "year": [2023, 2023, 2023, 2023],
            "importer_iso3": ["USA", "USA", "DEU", "USA"],
            "commodity": ["gallium", "gallium", "gallium", "graphite"],
            "stage": ["refining", "refining", "refining", "refining"],
            "supplier_iso3": ["CHN", "JPN", "CHN", "CHN"],
            "basis": ["bilateral", "bilateral", "bilateral", "bilateral"],
            "content_basis": [CHINA_CONTENT_BASIS, CHINA_CONTENT_BASIS, "Ga", CHINA_CONTENT_BASIS],
        },
        schema_overrides={"year": pl.Int32},
    )


def test_only_the_groups_made_from_china_s_exports_are_relabelled() -> None:
    rows = _rows()
    groups = china_only_groups(rows)
    assert sorted(groups.select("importer_iso3", "commodity").rows()) == [
        ("USA", "gallium"),
        ("USA", "graphite"),
    ]
    out = label_china_only(rows, groups)
    assert out["basis"].to_list() == [
        CHINA_ONLY_BASIS,
        CHINA_ONLY_BASIS,
        "bilateral",  # a BACI group of another importer keeps its basis
        CHINA_ONLY_BASIS,
    ]
    notes = out[BASIS_NOTE].to_list()
    assert notes[2] is None
    assert "not observed import shares" in notes[0]
    assert "811292" in notes[0]  # gallium: the mixed line is named
    assert "811292" not in notes[3]  # synthetic graphite (380110) is graphite alone


def test_a_world_market_row_of_a_china_group_is_not_relabelled() -> None:
    rows = _rows().with_columns(pl.lit("world_market").alias("basis"))
    out = label_china_only(rows, china_only_groups(_rows()))
    assert out["basis"].unique().to_list() == ["world_market"]
    assert out[BASIS_NOTE].null_count() == out.height


def test_without_china_s_table_gallium_stays_on_the_world_market() -> None:
    """The shipped default: no bilateral gallium or germanium, no note, nothing relabelled."""
    assert not (datasets_dir() / CHINA_EXPORTS_MONTHLY).exists()
    table = risk_table(
        RiskQuery(importer="USA", bloc="G7", year=2023, commodities=["gallium", "germanium"])
    )
    assert sorted(table["basis"].to_list()) == ["world_market", "world_market"]
    assert table[BASIS_NOTE].null_count() == 2
    assert table["import_value_usd"].null_count() == 2
    gallium = table.filter(pl.col("commodity") == "gallium")
    # USGS MCS 2025: China 621 of 633 t in 2023 (the US makes none)
    assert gallium["top1_share"].item() == pytest.approx(621 / 633, rel=1e-9)
    dependency, metrics = collect_year(load_inputs(years=[2023]), 2023)
    assert CHINA_ONLY_BASIS not in set(dependency["basis"])
    assert CHINA_ONLY_BASIS not in set(metrics["basis"])
    assert dependency[BASIS_NOTE].null_count() == dependency.height


# ----------------------------------------------------------------------------- real data
@pytest.fixture(scope="module")
def china_datasets(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A datasets folder: the shipped tables plus China's table built by the refresh step."""
    from resilience.ingest.monthly_refresh import monthly_tables

    folder = shared_data / "china_cm_exports_comtrade"
    inputs = {
        "china_monthly": [folder / "china_exports_by_partner_hs6_monthly_2017_2024.csv"],
        "china_tariff_lines": [folder / "hs_map_china_tariff_lines.csv"],
        "eurostat_gas": [
            shared_data / "eurostat_gas_imports_ru" / "nrg_ti_gas_ru_total_2011_2020_tidy.csv"
        ],
    }
    tables = monthly_tables(inputs, lambda _: None)
    root = tmp_path_factory.mktemp("datasets")
    for item in datasets_dir().iterdir():
        (root / item.name).symlink_to(item)
    tables[CHINA_EXPORTS_MONTHLY].write_parquet(root / CHINA_EXPORTS_MONTHLY)
    return root


def _raw_us_811292_usd(shared_data: Path, year: int, partner: str) -> float:
    """China's exports of HS 811292 to ``partner`` in ``year``, from the CSV by hand."""
    raw = pl.read_csv(
        shared_data
        / "china_cm_exports_comtrade"
        / "china_exports_by_partner_hs6_monthly_2017_2024.csv",
        schema_overrides={"hs6": pl.String, "period_dt": pl.String},
    )
    return float(
        raw.filter(
            (pl.col("hs6") == "811292")
            & (pl.col("partner_name") == partner)
            & pl.col("period_dt").str.starts_with(str(year))
        )["val"].sum()
    )


@pytest.fixture(scope="module")
def us_by_year(china_datasets: Path) -> dict[int, pl.DataFrame]:
    mp = pytest.MonkeyPatch()
    mp.setenv("RESILIENCE_DATASETS", str(china_datasets))
    try:
        inputs = load_inputs()
        return {
            year: risk_table(
                RiskQuery(importer="USA", bloc="G7", year=year, commodities=COMMODITIES), inputs
            )
            for year in inputs.years
        }
    finally:
        mp.undo()


@pytest.mark.integration
@pytest.mark.slow  # risk over several years on the real file: minutes in all
def test_gallium_and_germanium_have_china_only_rows_every_trade_year(
    us_by_year: dict[int, pl.DataFrame],
) -> None:
    # the shipped trade table (BACI) starts in 2018: 2017 of China's file has no risk year
    assert sorted(us_by_year) == list(range(2018, 2025))
    for year, table in us_by_year.items():
        for metal in ("gallium", "germanium"):
            row = table.filter((pl.col("commodity") == metal) & (pl.col("stage") == "refining"))
            assert row["basis"].item() == CHINA_ONLY_BASIS, (year, metal)
            assert row["top_supplier_iso3"].item() == "CHN"
            assert "HS 811292" in row[BASIS_NOTE].item()
            assert row["top1_value_usd"].item() > 0
        # synthetic graphite (380110) is not in trade.parquet: China's rows, no mixed-line note
        synthetic = table.filter(
            (pl.col("commodity") == "graphite") & (pl.col("stage") == "refining")
        )
        assert synthetic["basis"].item() == CHINA_ONLY_BASIS
        assert "811292" not in synthetic[BASIS_NOTE].item()
        # natural graphite stays on BACI (no flow counted twice)
        natural = table.filter((pl.col("commodity") == "graphite") & (pl.col("stage") == "mining"))
        assert natural["basis"].item() == "bilateral"
        assert natural[BASIS_NOTE].item() is None


@pytest.mark.integration
@pytest.mark.slow  # risk over several years on the real file: minutes in all
def test_the_us_china_row_is_the_file_s_annual_sum_and_falls_in_2023(
    us_by_year: dict[int, pl.DataFrame], shared_data: Path
) -> None:
    """China's HS 811292 exports to the US: USD 6.55 m in 2022, 5.25 m in 2023.

    The controls took effect on 1 August 2023; the annual sum falls by a fifth. 2024 is
    higher again (USD 9.64 m: February-March 2024 shipments of the mixed line), with no
    month above USD 0.7 m after July 2024 (test_china_monthly_real.py).
    """
    chn = {
        year: table.filter(pl.col("commodity") == "gallium")["top1_value_usd"].item()
        for year, table in us_by_year.items()
    }
    for year in (2022, 2023, 2024):
        assert chn[year] == pytest.approx(_raw_us_811292_usd(shared_data, year, "USA"), rel=1e-9)
    assert chn[2022] == pytest.approx(6.549e6, rel=1e-3)
    assert chn[2023] == pytest.approx(5.251e6, rel=1e-3)
    assert chn[2023] < 0.85 * chn[2022]
    # the share is the world-production one (not observed): USGS 2023, China 621 of 633 t
    gallium_2023 = us_by_year[2023].filter(pl.col("commodity") == "gallium")
    assert gallium_2023["top1_share"].item() == pytest.approx(621 / 633, rel=1e-9)


@pytest.mark.integration
@pytest.mark.slow  # risk over several years on the real file: minutes in all
def test_japan_s_china_gallium_row_falls_in_2023_and_stays_below_2022(
    china_datasets: Path, shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RESILIENCE_DATASETS", str(china_datasets))
    inputs = load_inputs(years=[2022, 2023, 2024])
    value = {}
    for year in (2022, 2023, 2024):
        table = risk_table(
            RiskQuery(importer="JPN", bloc="G7", year=year, commodities=["gallium"]), inputs
        )
        assert table["basis"].item() == CHINA_ONLY_BASIS
        value[year] = table["top1_value_usd"].item()
        assert value[year] == pytest.approx(_raw_us_811292_usd(shared_data, year, "Japan"))
    # USD 7.16 m (2022), 2.21 m (2023), 4.11 m (2024)
    assert value[2023] < 0.35 * value[2022]
    assert value[2024] < 0.6 * value[2022]


@pytest.mark.integration
@pytest.mark.slow  # risk over several years on the real file: minutes in all
def test_the_build_writes_the_label_and_keeps_other_goods(
    china_datasets: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RESILIENCE_DATASETS", str(china_datasets))
    dependency, metrics = collect_year(load_inputs(years=[2023]), 2023)
    labelled = dependency.filter(pl.col("basis") == CHINA_ONLY_BASIS)
    assert set(labelled["commodity"]) == {"gallium", "germanium", "graphite"}
    assert set(labelled.filter(pl.col("commodity") == "graphite")["stage"]) == {"refining"}
    assert labelled[BASIS_NOTE].null_count() == 0
    usa = metrics.filter((pl.col("importer_iso3") == "USA") & (pl.col("commodity") == "germanium"))
    assert usa["basis"].item() == CHINA_ONLY_BASIS
    cobalt = metrics.filter(pl.col("commodity") == "cobalt")
    assert CHINA_ONLY_BASIS not in set(cobalt["basis"])


@pytest.mark.integration
@pytest.mark.slow  # risk over several years on the real file: minutes in all
def test_eu27_supply_risk_is_unchanged_by_china_s_rows(
    china_datasets: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """China's rows change the EU27's basis and volumes, not its EU SR.

    Other producers are scaled from China's exports by world production shares, so the
    EU27's sourcing mix is the world-market one either way: gallium 5.02 and germanium
    4.21 averaged over 2018-2020 (published EU 2023: 3.9 and 1.8; not reproduced, see
    test_blocs_eu_supply_risk.py).
    """

    def eu27(year: int) -> dict[str, tuple[str, float]]:
        table = risk_table(
            RiskQuery(importer="EU27", bloc="G7", year=year, commodities=["gallium", "germanium"])
        )
        return {
            c: (b, sr)
            for c, b, sr in table.select("commodity", "basis", "eu_supply_risk").iter_rows()
        }

    shipped = {year: eu27(year) for year in (2018, 2019, 2020)}
    monkeypatch.setenv("RESILIENCE_DATASETS", str(china_datasets))
    with_table = {year: eu27(year) for year in (2018, 2019, 2020)}
    for metal, ours_2018_2020 in (("gallium", 5.02), ("germanium", 4.21)):
        before = [shipped[y][metal] for y in shipped]
        after = [with_table[y][metal] for y in with_table]
        assert {b for b, _ in before} == {"world_market"}
        assert {b for b, _ in after} == {CHINA_ONLY_BASIS}
        assert [sr for _, sr in after] == pytest.approx([sr for _, sr in before], rel=1e-9)
        assert sum(sr for _, sr in after) / 3 == pytest.approx(ours_2018_2020, abs=0.005)
