"""Reject a CSV download that is cut short, empty, header-only or not UTF-8 text.

A download interrupted part-way still parses: polars fills the missing cells of a cut
last row with nulls, and a header-only file is a valid, empty table. Either would flow
into the shipped tables as silently missing data, so every adapter runs
:func:`check_csv_complete` on a CSV before reading it. The rules:

* the file is not empty and holds at least one data row after the header;
* it is text, not UTF-16 (a byte-order mark or NUL bytes) nor another binary format;
* it ends with a line break, or its last record ends with a closing quote (a quoted last
  cell is provably complete; an unquoted one without a line break may be cut mid-value);
* no quoted cell is left open at the end of the file;
* no record has fewer cells than the header (a cut row). (More cells than the header is
  left to each adapter: polars rejects it, the USGS reader ignores trailing empty cells.)

Each failure is a :class:`~resilience.errors.DataError` naming the file, the row (the
1-based line, header = 1), the column and the value.

For a flow file too large to read twice (BACI, 300 MB a year),
:func:`check_csv_tail` checks the header and the last record only: the end of the file is
where a cut download shows.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from resilience.errors import DataError

__all__ = ["check_csv_complete", "check_csv_tail", "check_text_bytes"]

#: Bytes of the file start inspected for a byte-order mark or NUL bytes.
_SNIFF_BYTES = 4096
#: Bytes read from the end of a large file to find its last record.
_TAIL_BYTES = 64 * 1024


def check_text_bytes(path: Path, head: bytes) -> None:
    """Reject an empty file, a UTF-16/UTF-32 file or a binary one (NUL bytes).

    Parameters
    ----------
    path
        File, for messages.
    head
        The first bytes of the file (a few kB suffice).
    """
    if not head.strip():
        raise DataError.single(path, None, "(file)", None, "file is empty")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataError.single(
            path,
            1,
            "(encoding)",
            head[:2].hex(" "),
            "file is UTF-16 encoded (byte-order mark); save it as UTF-8 CSV",
        )
    if b"\x00" in head[:_SNIFF_BYTES]:
        raise DataError.single(
            path,
            1,
            "(encoding)",
            None,
            "file holds NUL bytes: UTF-16/UTF-32 text or a binary file, not a UTF-8 CSV",
        )


def _ends_complete(data: bytes) -> bool:
    stripped = data.rstrip(b" \t")
    return stripped.endswith((b"\n", b"\r")) or stripped.endswith(b'"')


def check_csv_complete(path: Path, data: bytes | None = None, *, delimiter: str = ",") -> None:
    """Raise :class:`DataError` when ``path`` is empty, header-only or cut short.

    Parameters
    ----------
    path
        The CSV file.
    data
        Its bytes when the caller has already read them (read here otherwise).
    delimiter
        Cell separator.
    """
    data = path.read_bytes() if data is None else data
    check_text_bytes(path, data[:_SNIFF_BYTES])
    text = data.decode("utf-8-sig", errors="replace")
    if data.count(b'"') % 2:
        raise DataError.single(
            path,
            None,
            "(record)",
            text[-40:],
            "file ends inside a quoted cell (an odd number of quote characters): "
            "the download is cut short",
        )
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str] | None = None
    n_records = 0
    last_start = 1
    start = 1
    try:
        for cells in reader:
            if header is None:
                header = cells
                start = reader.line_num + 1
                continue
            if any(c.strip() for c in cells):
                n_records += 1
                last_start = start
                _check_width(path, header, cells, start)
            start = reader.line_num + 1
    except csv.Error as exc:
        raise DataError.single(
            path,
            start,
            "(record)",
            text[-40:],
            f"malformed record ({exc})",
        ) from exc
    if header is None:
        raise DataError.single(path, None, "(file)", None, "file is empty")
    if n_records == 0:
        raise DataError.single(
            path, 1, "(header)", delimiter.join(header)[:80], "header only: no data rows"
        )
    if not _ends_complete(data):
        raise DataError.single(
            path,
            last_start,
            "(record)",
            text.rstrip("\r\n").rsplit("\n", 1)[-1][-60:],
            "file does not end with a line break after its last record: the download "
            "may be cut mid-value",
        )


def _check_width(path: Path, header: list[str], cells: list[str], row: int) -> None:
    if len(cells) < len(header):
        column = header[len(cells)].strip()
        raise DataError.single(
            path,
            row,
            column,
            ",".join(cells)[-60:],
            f"record has {len(cells)} of the header's {len(header)} cells: "
            "a row cut short (truncated file?)",
        )


def _count_lines(path: Path) -> int:
    """Line number of the last line (line breaks counted in 1 MiB blocks)."""
    breaks = 0
    last = b""
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            breaks += block.count(b"\n")
            last = block
    return breaks + (0 if last.endswith(b"\n") else 1)


def check_csv_tail(path: Path, *, delimiter: str = ",") -> None:
    """Check a large CSV's start and its last record only (cut or header-only file).

    Raises
    ------
    resilience.errors.DataError
        Empty, UTF-16 or binary, header-only, or a last record cut short.
    """
    size = path.stat().st_size
    with path.open("rb") as f:
        head = f.read(_SNIFF_BYTES)
        f.seek(max(0, size - _TAIL_BYTES))
        tail = f.read()
    check_text_bytes(path, head)
    header_line = head.split(b"\n", 1)[0].decode("utf-8-sig", errors="replace")
    header = next(csv.reader([header_line], delimiter=delimiter))
    lines = [line for line in tail.splitlines() if line.strip()]
    if size <= _TAIL_BYTES and len(lines) <= 1:
        raise DataError.single(path, 1, "(header)", header_line[:80], "header only: no data rows")
    last = lines[-1].decode("utf-8", errors="replace") if lines else ""
    cells = next(csv.reader([last], delimiter=delimiter)) if last else []
    row = _count_lines(path) if (len(cells) < len(header) or not _ends_complete(tail)) else None
    if len(cells) < len(header):
        raise DataError.single(
            path,
            row,
            header[len(cells)].strip(),
            last[-60:],
            f"last record has {len(cells)} of the header's {len(header)} cells: "
            "the file is cut short",
        )
    if not _ends_complete(tail):
        raise DataError.single(
            path,
            row,
            "(record)",
            last[-60:],
            "file does not end with a line break after its last record: the download "
            "may be cut mid-value",
        )
