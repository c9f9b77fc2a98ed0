import polars as pl
import pytest

from resilience.errors import DataError
from resilience.reference.countries import REST_OF_WORLD, WORLD, CountryResolver, clean_name


@pytest.fixture(scope="module")
def resolver() -> CountryResolver:
    return CountryResolver.default()


@pytest.mark.parametrize(
    ("name", "iso3"),
    [
        ("Congo (Kinshasa)", "COD"),  # USGS
        ("Congo, Dem. Rep.", "COD"),  # WGI
        ("Congo, Rep.", "COG"),
        ("Burma", "MMR"),
        ("Other Asia, nes", "TWN"),  # BACI / Comtrade code 490
        ("Taiwan, China", "TWN"),
        ("Türkiye", "TUR"),
        ("TÃ¼rkiye", "TUR"),  # UTF-8 read as Latin-1 in the BACI code table
        ("Turkey", "TUR"),
        ("Korea, Republic of", "KOR"),
        ("Korea, Rep.", "KOR"),
        ("Korea, North", "PRK"),
        ("Côte d’Ivoire", "CIV"),
        ("United\xa0States", "USA"),
        ("Russia ", "RUS"),
        ("Kosovo", "XKX"),
        ("USSR", "SUN"),
        ("DEU", "DEU"),
    ],
)
def test_source_spellings_resolve_to_iso3(resolver, name, iso3):
    hit = resolver.lookup(name)
    assert hit is not None
    assert (hit.kind, hit.iso3) == ("country", iso3)


@pytest.mark.parametrize(
    ("name", "kind", "iso3"),
    [
        ("World total (rounded)", "world", WORLD),
        ("World total (rounded), excluding U.S. production", "world", WORLD),
        ("World", "world", WORLD),
        ("Total", "world", WORLD),
        ("Other countries", "rest_of_world", REST_OF_WORLD),
        ("Other countries10", "rest_of_world", REST_OF_WORLD),
        ("Rest of world", "rest_of_world", REST_OF_WORLD),
        ("OECD", "region", None),
        ("Other Europe", "region", None),
        ("European Union", "region", None),
        ("Europe EFTA, nes", "region", None),
        ("Top 3 share", "statistic", None),
    ],
)
def test_aggregates_are_recognised_never_countries(resolver, name, kind, iso3):
    hit = resolver.lookup(name)
    assert hit is not None
    assert (hit.kind, hit.iso3) == (kind, iso3)


def test_scoped_alias_applies_only_to_its_source(resolver):
    assert resolver.lookup("South") is None
    hit = resolver.lookup("South", scope="wna")
    assert hit is not None
    assert hit.iso3 == "ZAF"


def test_unknown_name_error_names_file_row_column_value_and_close_matches(resolver):
    frame = pl.DataFrame(
        {"Country": ["Chile", "Australia", "Atlantis", "Chilee"], "source_row": [2, 3, 4, 5]}
    )
    with pytest.raises(DataError) as info:
        resolver.resolve_column(frame, "Country", file="prod.csv")
    message = str(info.value)
    assert "prod.csv, row 4, column 'Country': unknown country name" in message
    assert "'Atlantis'" in message
    assert "row 5" in message
    assert "chile" in message  # close match offered for the typo
    assert len(info.value.problems) == 2


def test_resolve_column_maps_each_row(resolver):
    frame = pl.DataFrame(
        {
            "c": ["Chile", "World total (rounded)", "Other countries", "OECD"],
            "source_row": [2, 3, 4, 5],
        }
    )
    out = resolver.resolve_column(frame, "c", file="x.csv")
    assert out["country_iso3"].to_list() == ["CHL", "WLD", "ROW", None]
    assert out["country_kind"].to_list() == ["country", "world", "rest_of_world", "region"]


def test_empty_name_is_an_error(resolver):
    frame = pl.DataFrame({"c": ["Chile", None], "source_row": [2, 3]})
    with pytest.raises(DataError, match=r"x.csv, row 3, column 'c': country name is empty"):
        resolver.resolve_column(frame, "c", file="x.csv")


def test_clean_name_repairs_mojibake_and_spaces():
    assert clean_name("CuraÃ§ao") == "Curaçao"
    assert clean_name("  United\xa0 States ") == "United States"


def test_name_of_and_pseudo_codes(resolver):
    assert resolver.name_of("TWN") == "Taiwan"
    assert resolver.name_of(WORLD) == "World"
    assert resolver.is_country("XKX")
    assert not resolver.is_country(REST_OF_WORLD)
