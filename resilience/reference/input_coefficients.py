r"""Cross-sector input coefficients: what one unit of a downstream good needs upstream.

``datasets/input_coefficients.csv`` (data card ``datasets/sources/input_coefficients.md``)
holds one cited coefficient per (input commodity and stage, output commodity and stage):
gallium per tonne of GaAs and GaN, semiconductor-grade neon per unit of world chip
output, graphite per kWh of battery cells, polysilicon per watt of PV wafers, rare-earth
metal per tonne of NdFeB magnet. Both ends are (commodity, stage) pairs of
``datasets/commodities.csv``.

:func:`process_table` turns the table into the market core's process rows
(``process, good_out, good_in, units_in_per_unit_out``, goods named ``commodity/stage``),
with the coefficient converted into the input commodity's unit where that is a plain
change of mass unit, and a flag saying whether both ends are in the units of the
commodity table. Where they are not (an output counted in kWh or W while the commodity
table counts it as a share of world capacity; rare-earth *metal* while the commodity is
counted in oxide), the coefficient is returned in its own units and the row is flagged:
chaining it needs a conversion the table does not cite.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import polars as pl

from resilience.errors import DataError, DataProblem
from resilience.paths import datasets_dir
from resilience.reference.commodities import load_commodities
from resilience.schemas.chips import InputCoefficients
from resilience.schemas.validate import validate_frame

__all__ = [
    "COEFFICIENT_FILE",
    "MASS_UNITS_T",
    "check_input_coefficients",
    "load_input_coefficients",
    "process_table",
]

COEFFICIENT_FILE = "input_coefficients.csv"
#: Tonnes per mass unit a coefficient may be stated in.
MASS_UNITS_T = {"g": 1e-6, "kg": 1e-3, "t": 1.0}
_UNIT = re.compile(r"^(\S+) per (\S+)$")


@cache
def _read(path: Path) -> pl.DataFrame:
    raw = pl.read_csv(path, infer_schema=False)
    return validate_frame(InputCoefficients, raw, file=path.name)


def check_input_coefficients(
    table: pl.DataFrame, commodities: pl.DataFrame, *, file: str = COEFFICIENT_FILE
) -> None:
    """Raise :class:`~resilience.errors.DataError` unless both ends are known goods.

    Each problem names file, row, column and value: an input or output (commodity,
    stage) that ``commodities`` does not list (the value reads ``commodity/stage``), or
    a row whose input is its own output.
    """
    known = set(commodities.select("commodity", "stage").iter_rows())
    problems: list[DataProblem] = []
    for rec in table.iter_rows(named=True):
        row = rec["source_row"]
        for end in ("input", "output"):
            good = (rec[f"{end}_commodity"], rec[f"{end}_stage"])
            if good not in known:
                problems.append(
                    DataProblem(
                        file,
                        row,
                        f"{end}_commodity",
                        "/".join(good),
                        "no such commodity and stage in commodities.csv",
                    )
                )
        if (rec["input_commodity"], rec["input_stage"]) == (
            rec["output_commodity"],
            rec["output_stage"],
        ):
            problems.append(
                DataProblem(
                    file,
                    row,
                    "output_commodity",
                    rec["output_commodity"],
                    "a good cannot be its own input",
                )
            )
    if problems:
        raise DataError(problems)


def load_input_coefficients(
    path: Path | None = None, commodities: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Read, validate and cross-check ``datasets/input_coefficients.csv``.

    Parameters
    ----------
    path
        The table; the shipped one by default.
    commodities
        The commodity table both ends are checked against; the shipped one by default.

    Returns
    -------
    polars.DataFrame
        The :class:`~resilience.schemas.chips.InputCoefficients` columns and
        ``source_row``.

    Raises
    ------
    resilience.errors.DataError
        A missing column, a zero or negative coefficient, a unit not of the form
        ``<in> per <out>``, ``low``/``high`` not bracketing the coefficient, a duplicate
        (input, output) pair, or an unknown good (:func:`check_input_coefficients`);
        each named by file, row, column and value.
    """
    path = path or datasets_dir() / COEFFICIENT_FILE
    table = _read(path)
    check_input_coefficients(
        table, commodities if commodities is not None else load_commodities(), file=path.name
    )
    return table


def _mentions(text: str, basis: str) -> bool:
    return re.search(rf"(^|\W){re.escape(basis)}(\W|$)", text) is not None


def process_table(
    coefficients: pl.DataFrame | None = None, commodities: pl.DataFrame | None = None
) -> pl.DataFrame:
    """The coefficients as node-independent process rows for the market core.

    Parameters
    ----------
    coefficients, commodities
        The input-coefficient and commodity tables (the shipped ones by default).

    Returns
    -------
    polars.DataFrame
        One row per coefficient: ``process`` (= ``good_out``: one process makes each
        good), ``good_out``, ``good_in`` (``commodity/stage``), ``units_in_per_unit_out``,
        ``unit_in``, ``unit_out``, ``is_in_commodity_units``, ``source``.
        ``units_in_per_unit_out`` is in the input commodity's unit per ``unit_out`` when
        the coefficient's input unit is a mass (g, kg, t), the commodity is counted in
        tonnes and ``input_basis`` names the commodity's content basis (``t of Ga`` for
        gallium counted as Ga); otherwise it is the coefficient in its own units.
        ``is_in_commodity_units`` is true when both ends are in the commodity table's
        units, i.e. when the row can be chained as it stands.
    """
    commodities = commodities if commodities is not None else load_commodities()
    table = (
        coefficients
        if coefficients is not None
        else load_input_coefficients(commodities=commodities)
    )
    units = {
        (c, s): (u, b)
        for c, s, u, b in commodities.select(
            "commodity", "stage", "unit", "content_basis"
        ).iter_rows()
    }
    rows = []
    for rec in table.iter_rows(named=True):
        found = _UNIT.match(rec["unit"])
        if found is None:  # the schema's regex already refused it; kept for type narrowing
            raise ValueError(f"unit {rec['unit']!r} is not '<in> per <out>'")
        unit_in, unit_out = found.groups()
        in_unit, in_basis = units[(rec["input_commodity"], rec["input_stage"])]
        out_unit, _ = units[(rec["output_commodity"], rec["output_stage"])]
        input_ok = (
            in_unit == "t" and unit_in in MASS_UNITS_T and _mentions(rec["input_basis"], in_basis)
        )
        value = rec["coefficient"] * (MASS_UNITS_T[unit_in] if input_ok else 1.0)
        good_out = f"{rec['output_commodity']}/{rec['output_stage']}"
        rows.append(
            {
                "process": good_out,
                "good_out": good_out,
                "good_in": f"{rec['input_commodity']}/{rec['input_stage']}",
                "units_in_per_unit_out": value,
                "unit_in": in_unit if input_ok else unit_in,
                "unit_out": unit_out,
                "is_in_commodity_units": input_ok and unit_out == out_unit,
                "source": rec["source"],
            }
        )
    return pl.DataFrame(
        rows,
        schema={
            "process": pl.String,
            "good_out": pl.String,
            "good_in": pl.String,
            "units_in_per_unit_out": pl.Float64,
            "unit_in": pl.String,
            "unit_out": pl.String,
            "is_in_commodity_units": pl.Boolean,
            "source": pl.String,
        },
    )
