"""Regenerate ``datasets/countries.csv`` (run once per pycountry / coco release, then review).

ISO 3166-1 codes and names come from pycountry (the authority). UN M49 region and
continent come from country_converter (coco), which needs ``pandas<3``; run this script in
an isolated environment::

    python -m venv /tmp/coco && /tmp/coco/bin/pip install country_converter "pandas<3" pycountry
    /tmp/coco/bin/python datasets/_build/countries.py

It is not imported by the package; the package reads the committed CSV.
"""

import csv
from pathlib import Path

import country_converter as coco
import pycountry

OUT = Path(__file__).resolve().parents[1] / "countries.csv"

# Entities the sources use that ISO 3166-1 does not (or no longer) list.
EXTRA = [
    # iso3, iso2, numeric, name, continent, un_region, is_historic
    ("XKX", "XK", "", "Kosovo", "Europe", "Southern Europe", False),
    ("SUN", "SU", "810", "USSR", "Europe", "Eastern Europe", True),
    ("CSK", "CS", "200", "Czechoslovakia", "Europe", "Eastern Europe", True),
    ("YUG", "YU", "890", "Yugoslavia", "Europe", "Southern Europe", True),
    ("DDR", "DD", "278", "German Democratic Republic", "Europe", "Western Europe", True),
    ("ANT", "AN", "530", "Netherlands Antilles", "America", "Caribbean", True),
    ("SCG", "CS", "891", "Serbia and Montenegro", "Europe", "Southern Europe", True),
    ("YMD", "YD", "720", "Yemen, Democratic (South Yemen)", "Asia", "Western Asia", True),
    ("BLX", "", "58", "Belgium-Luxembourg (customs union)", "Europe", "Western Europe", True),
]


def main() -> None:
    cc = coco.CountryConverter()
    data = cc.data.set_index("ISO3")
    rows = []
    for c in pycountry.countries:
        iso3 = c.alpha_3
        cont = data.at[iso3, "continent"] if iso3 in data.index else ""
        reg = data.at[iso3, "UNregion"] if iso3 in data.index else ""
        name = getattr(c, "common_name", None) or c.name
        rows.append((iso3, c.alpha_2, c.numeric, name, cont, reg, False))
    rows += EXTRA
    rows.sort()
    with OUT.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["iso3", "iso2", "iso_numeric", "name", "continent", "un_region", "is_historic"])
        for r in rows:
            w.writerow([*r[:6], "true" if r[6] else "false"])
    print(f"wrote {len(rows)} rows to {OUT}")


if __name__ == "__main__":
    main()
