r"""Blocs as importers: the EU27, the G7, ``G7+EU`` or a user's bloc, each one importer.

A bloc's rows are built from its members' rows, on the year's membership (31 December,
:func:`resilience.build.dependency.year_end`):

- **imports** are the members' imports from outside the bloc only (intra-bloc trade is
  removed), summed per supplier: :math:`M_{B,c,s} = \sum_{m \in B} M_{m,c,s}`,
  :math:`s \notin B`; shares are recomputed on that total;
- **exports** are the members' exports to countries outside the bloc;
- **production** is the members' sum (in the commodity's production unit).

``importer_iso3`` of a bloc row is the bloc id (``EU27``, ``G7``, ``G7+EU``, ``MY_BLOC``)
and ``importer_is_bloc`` is true. ``EU27`` is the European Union of 27 members (the
``EU`` members on 1 February 2020, after the United Kingdom left) in every year: the
composition the EU's 2023 critical-raw-materials assessment uses for its 2016-2020
averages; ``EU`` follows the dated membership (28 members to 2019).

Intra-bloc flows are kept apart (:func:`intra_bloc_flows`): GeoPolRisk counts them in the
bloc's total imports with :math:`g = 0` (geopolrisk-py's ``internal`` rule, see
:mod:`resilience.metrics.geopolrisk`), while the EU supply-risk method uses extra-bloc
flows only.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from resilience.errors import UnknownNameError
from resilience.metrics.sums import stable_sum
from resilience.reference.alliances import bloc_ids, members
from resilience.reference.bloc_files import read_bloc_file

if TYPE_CHECKING:
    from resilience.build.pipeline import Inputs

__all__ = [
    "EU27",
    "add_blocs",
    "EU27_DATE",
    "bloc_bilateral",
    "bloc_exports",
    "bloc_membership",
    "bloc_production",
    "intra_bloc_flows",
    "is_bloc_name",
    "with_bloc_files",
]

#: The bloc id of the fixed 27-member European Union.
EU27 = "EU27"
#: The date whose ``EU`` membership defines :data:`EU27` (the day after the UK left).
EU27_DATE = dt.date(2020, 2, 1)

_GROUP = ["year", "importer_iso3", "commodity", "stage"]


def with_bloc_files(alliances: pl.DataFrame, files: Iterable[Path | str]) -> pl.DataFrame:
    """``alliances`` plus the blocs of the user's bloc files (CSV or YAML).

    Raises
    ------
    resilience.errors.DataError
        A bad bloc file (:func:`resilience.reference.bloc_files.read_bloc_file`), or two
        files defining the same bloc.
    """
    frames = [alliances]
    known = [*bloc_ids(alliances), EU27]
    for path in files:
        user = read_bloc_file(path, shipped_blocs=known)
        frames.append(user.select(alliances.columns))
        known += sorted(set(user["bloc"].to_list()))
    return pl.concat(frames, how="vertical_relaxed") if len(frames) > 1 else alliances


def is_bloc_name(name: str, alliances: pl.DataFrame) -> bool:
    """Whether ``name`` is a bloc id or a ``+``-joined union of bloc ids (``G7+EU``)."""
    known = {*bloc_ids(alliances), EU27}
    return all(part in known for part in name.split("+"))


def _members_on(alliances: pl.DataFrame, name: str, on: dt.date) -> list[str]:
    parts = name.split("+")
    out: set[str] = set()
    for part in parts:
        out |= set(members(alliances, "EU", EU27_DATE) if part == EU27 else [])
    rest = [p for p in parts if p != EU27]
    if rest:
        out |= set(members(alliances, rest, on))
    return sorted(out)


def bloc_membership(
    alliances: pl.DataFrame, blocs: Sequence[str], years: Iterable[int]
) -> pl.DataFrame:
    """Members of each bloc (or union) on 31 December of each year.

    Parameters
    ----------
    alliances
        The alliance table (:func:`resilience.reference.alliances.load_alliances`, with
        any user blocs from :func:`with_bloc_files`).
    blocs
        Bloc ids or unions (``"EU27"``, ``"G7+EU"``).
    years
        Years to cover.

    Returns
    -------
    polars.DataFrame
        ``year (Int32), bloc_iso3, member_iso3``, one row per member.

    Raises
    ------
    resilience.errors.UnknownNameError
        An unknown bloc id, with close matches.
    """
    known = [*bloc_ids(alliances), EU27]
    rows: list[tuple[int, str, str]] = []
    for name in dict.fromkeys(blocs):
        for part in name.split("+"):
            if part not in known:
                raise UnknownNameError("bloc", part, difflib.get_close_matches(part, known, n=3))
        for year in sorted(set(years)):
            rows += [
                (year, name, iso3) for iso3 in _members_on(alliances, name, dt.date(year, 12, 31))
            ]
    return pl.DataFrame(
        rows,
        schema={"year": pl.Int32, "bloc_iso3": pl.String, "member_iso3": pl.String},
        orient="row",
    )


def bloc_bilateral(bilateral: pl.LazyFrame, membership: pl.DataFrame) -> pl.LazyFrame:
    r"""Each bloc's imports from outside it, by supplier, as bilateral-share rows.

    Parameters
    ----------
    bilateral
        Country bilateral shares (``year, importer_iso3, commodity, stage,
        supplier_iso3, import_value_usd, import_quantity_t, import_share``).
    membership
        :func:`bloc_membership`.

    Returns
    -------
    polars.LazyFrame
        The same columns with ``importer_iso3`` the bloc id: the members' imports from
        non-members summed per supplier, :math:`s = M_{B,s} / \sum_{s'} M_{B,s'}` by
        value. A quantity is the sum of the members' quantities; it is null when any
        member's flow from that supplier has no quantity (never a partial sum).
    """
    members_of = membership.lazy().select(
        "year", "bloc_iso3", pl.col("member_iso3").alias("supplier_iso3"), pl.lit(True).alias("_in")
    )
    extra = (
        bilateral.join(
            membership.lazy().rename({"member_iso3": "importer_iso3"}),
            on=["year", "importer_iso3"],
            how="inner",
        )
        .join(members_of, on=["year", "bloc_iso3", "supplier_iso3"], how="left")
        .filter(pl.col("_in").is_null())
    )
    key = ["year", "bloc_iso3", "commodity", "stage", "supplier_iso3"]
    # Content columns (resilience.build.content) are summed like tonnes where the
    # bilateral rows carry them (the shipped trade table does; hand-made frames may not).
    has_content = "import_quantity_content" in bilateral.collect_schema().names()
    quantities = (
        ("import_quantity_t", "import_quantity_content") if has_content else ("import_quantity_t",)
    )
    content_agg = (
        [pl.col("content_unit").drop_nulls().first(), pl.col("content_basis").drop_nulls().first()]
        if has_content
        else []
    )
    content_out: list[str | pl.Expr] = (
        [
            "import_quantity_content",
            "content_unit",
            "content_basis",
            pl.when(pl.col("import_quantity_content") > 0)
            .then(pl.col("import_value_usd") / pl.col("import_quantity_content"))
            .alias("unit_value_usd_per_content_unit"),
        ]
        if has_content
        else []
    )
    summed = extra.group_by(key).agg(
        stable_sum(pl.col("import_value_usd")),
        *(
            pl.when(pl.col(q).null_count() == 0).then(stable_sum(pl.col(q))).alias(q)
            for q in quantities
        ),
        *content_agg,
    )
    return summed.rename({"bloc_iso3": "importer_iso3"}).select(
        *_GROUP,
        "supplier_iso3",
        "import_value_usd",
        "import_quantity_t",
        *content_out,
        (pl.col("import_value_usd") / stable_sum(pl.col("import_value_usd")).over(_GROUP)).alias(
            "import_share"
        ),
    )


def intra_bloc_flows(dependency: pl.LazyFrame, membership: pl.DataFrame) -> pl.LazyFrame:
    """The members' bilateral imports from other members, labelled with the bloc.

    Returns
    -------
    polars.LazyFrame
        ``year, importer_iso3 (the bloc), commodity, stage, supplier_iso3,
        import_quantity_t, import_value_usd, supplier_wgi_pv`` for flows between two
        members of the same bloc.
    """
    bilateral = dependency.filter(pl.col("basis") == "bilateral")
    importer_side = membership.lazy().rename({"member_iso3": "importer_iso3"})
    supplier_side = membership.lazy().rename({"member_iso3": "supplier_iso3"})
    return (
        bilateral.join(importer_side, on=["year", "importer_iso3"], how="inner")
        .join(supplier_side, on=["year", "bloc_iso3", "supplier_iso3"], how="inner")
        .select(
            "year",
            pl.col("bloc_iso3").alias("importer_iso3"),
            "commodity",
            "stage",
            "supplier_iso3",
            "import_quantity_t",
            *(
                ["import_quantity_content"]
                if "import_quantity_content" in dependency.collect_schema().names()
                else []
            ),
            "import_value_usd",
            "supplier_wgi_pv",
        )
    )


def bloc_production(world: pl.LazyFrame, membership: pl.DataFrame) -> pl.LazyFrame:
    """The members' production summed per bloc (the world table's unit).

    Returns
    -------
    polars.LazyFrame
        ``year, importer_iso3 (the bloc), commodity, stage, domestic_production,
        production_unit, n_producing_members``. A member with a withheld (null) figure
        makes the bloc's sum null rather than a partial sum.
    """
    return (
        world.join(
            membership.lazy().rename({"member_iso3": "country_iso3"}),
            on=["year", "country_iso3"],
            how="inner",
        )
        .group_by("year", "bloc_iso3", "commodity", "stage")
        .agg(
            pl.when(pl.col("production_quantity").null_count() == 0)
            .then(stable_sum(pl.col("production_quantity")))
            .alias("domestic_production"),
            pl.col("unit").first().alias("production_unit"),
            pl.len().alias("n_producing_members"),
        )
        .rename({"bloc_iso3": "importer_iso3"})
    )


def bloc_exports(dependency: pl.LazyFrame, membership: pl.DataFrame) -> pl.LazyFrame:
    """What countries outside each bloc record importing from its members (tonnes).

    Returns
    -------
    polars.LazyFrame
        ``year, importer_iso3 (the bloc), commodity, stage, exports_t``.
    """
    bilateral = dependency.filter((pl.col("basis") == "bilateral") & ~pl.col("importer_is_bloc"))
    supplier_side = membership.lazy().rename({"member_iso3": "supplier_iso3"})
    inside = membership.lazy().select(
        "year", "bloc_iso3", pl.col("member_iso3").alias("importer_iso3"), pl.lit(True).alias("_in")
    )
    return (
        bilateral.join(supplier_side, on=["year", "supplier_iso3"], how="inner")
        .join(inside, on=["year", "bloc_iso3", "importer_iso3"], how="left")
        .filter(pl.col("_in").is_null())
        .group_by("year", "bloc_iso3", "commodity", "stage")
        .agg(
            stable_sum(pl.col("import_quantity_t")).alias("exports_t"),
            *(
                [stable_sum(pl.col("import_quantity_content")).alias("exports_content")]
                if "import_quantity_content" in dependency.collect_schema().names()
                else []
            ),
        )
        .rename({"bloc_iso3": "importer_iso3"})
    )


def add_blocs(
    inputs: Inputs, blocs: Iterable[str] = (), bloc_files: Iterable[Path | str] = ()
) -> Inputs:
    """``inputs`` with blocs added as importers (their bilateral rows and membership).

    Parameters
    ----------
    inputs
        Build inputs (:func:`resilience.build.pipeline.load_inputs`).
    blocs
        Bloc ids or unions to add (``EU27``, ``G7+EU``); one already present is skipped.
    bloc_files
        A user's bloc files; every bloc they define is added.

    Returns
    -------
    resilience.build.pipeline.Inputs
        A copy with ``alliances`` (user blocs included), ``blocs`` (membership),
        ``bilateral`` (bloc rows appended) and ``importers`` (bloc ids appended).

    Raises
    ------
    resilience.errors.DataError
        A bad bloc file.
    resilience.errors.UnknownNameError
        An unknown bloc id (close matches listed).
    """
    files = list(bloc_files)
    alliances = with_bloc_files(inputs.alliances, files)
    from_files = sorted(set(alliances["bloc"].to_list()) - set(inputs.alliances["bloc"].to_list()))
    present = set() if inputs.blocs is None else set(inputs.blocs["bloc_iso3"].to_list())
    names = [n for n in dict.fromkeys([*blocs, *from_files]) if n not in present]
    if not names:
        return dataclasses.replace(inputs, alliances=alliances)
    membership = bloc_membership(alliances, names, inputs.years)
    countries = (
        inputs.bilateral
        if not present
        else inputs.bilateral.filter(~pl.col("importer_iso3").is_in(sorted(present)))
    )
    added = bloc_bilateral(countries, membership).select(inputs.bilateral.collect_schema().names())
    return dataclasses.replace(
        inputs,
        alliances=alliances,
        blocs=membership if inputs.blocs is None else pl.concat([inputs.blocs, membership]),
        bilateral=pl.concat([inputs.bilateral, added], how="vertical_relaxed"),
        importers=[*inputs.importers, *names],
    )
