"""Our HHI, recomputed from World Mining Data's own country figures, equals the HHI it prints."""

import polars as pl
import pytest

from resilience import data
from resilience.ingest.mapping import load_commodity_map
from resilience.ingest.wmd import SHARES_SOURCE
from resilience.metrics.concentration import concentration, shares


def test_hhi_matches_world_mining_data_for_every_mapped_commodity():
    published = data.load_published_hhi()
    cmap = load_commodity_map("wmd").filter(pl.col("commodity").is_not_null())
    one_to_one = cmap.filter(pl.len().over("commodity", "stage") == 1)
    expected = published.join(
        one_to_one.select("source_commodity", "commodity", "stage"), on="source_commodity"
    )
    production = data.load_production().filter(pl.col("source") == SHARES_SOURCE)
    group = ["year", "commodity", "stage"]
    ours = concentration(shares(production, group), group).collect()
    both = expected.join(ours, on=group, how="left")
    assert both.height >= 60  # about 35 mapped commodities x 2 years
    assert both["hhi_10000"].null_count() == 0
    # Exact: the share tables list every producer, so countries + rest of world = total.
    assert both["hhi_10000"].to_numpy() == pytest.approx(both["hhi_published"].to_numpy(), rel=1e-9)
    cobalt = both.filter(pl.col("commodity") == "cobalt", pl.col("year") == 2022)
    assert cobalt["hhi_published"].item() == pytest.approx(4929, abs=0.5)
    assert cobalt["hhi_10000"].item() == pytest.approx(cobalt["hhi_published"].item(), rel=1e-12)
