"""chip_capacity.csv against the compiled headline figures it was transcribed from."""

import re
from pathlib import Path

import polars as pl

from resilience.reference.chips import load_chip_capacity
from resilience.reference.countries import CountryResolver

HEADLINE = Path("chips_energy_headline_figures") / "chip_energy_headline_figures.csv"


def test_every_shared_figure_is_transcribed_as_published(shared_data):
    """Each shipped country share read from a page in the headline file matches it."""
    headline = pl.read_csv(shared_data / HEADLINE, infer_schema=False).filter(
        pl.col("share_pct").is_not_null()
    )
    resolver = CountryResolver.default()
    # one page may give several figures for a country and year (one per node band)
    published: dict[tuple[str, str, str], set[float]] = {}
    for url, year, name, share in headline.select(
        "url", "year", "region_country", "share_pct"
    ).iter_rows():
        hit = resolver.lookup(name)
        if hit is not None and hit.kind == "country" and hit.iso3 is not None:
            published.setdefault((url, year, hit.iso3), set()).add(float(share))
    quotes: dict[str, str] = {}
    for url, quote in headline.select("url", "quote").iter_rows():
        quotes[url] = quotes.get(url, "") + " " + (quote or "")
    shipped = load_chip_capacity().filter(pl.col("region").str.contains(r"^[A-Z]{3}$"))
    compared = 0
    for url, year, region, share in shipped.select(
        "url", "year", "region", "share_pct"
    ).iter_rows():
        key = (url, str(year), region)
        if key in published:
            # as a row of the headline file, or stated in the quote of one of its rows
            in_quote = re.search(rf"(^|\D){share:g}\s*(%|per ?cent)", quotes[url])
            assert share in published[key] or in_quote, (key, share, published[key])
            compared += 1
    assert compared >= 20
    # nothing shipped comes from the non-commercial ETO dataset the headline file cites
    eto = headline.filter(pl.col("url").str.contains("eto-chip-explorer"))["url"].unique()
    assert eto.len() > 0
    assert not shipped["url"].is_in(eto.to_list()).any()
