"""Writing a figure to PNG, SVG or PDF: atomically, with the umask's mode, reproducibly."""

from __future__ import annotations

import logging
from pathlib import Path

from matplotlib import rc_context
from matplotlib.figure import Figure

__all__ = ["save"]

log = logging.getLogger(__name__)

_FORMATS = {".png": "png", ".svg": "svg", ".pdf": "pdf"}
_NO_DATE = {"png": None, "svg": {"Date": None}, "pdf": {"CreationDate": None}}


def save(fig: Figure, path: str | Path, *, dpi: int = 150) -> Path:
    """Write ``fig`` to ``path`` as PNG, SVG or PDF, chosen from the suffix.

    Parent folders are created (and checked for writability first). The file is written
    atomically (a temporary file renamed over ``path``) with the mode a plain ``open``
    gives (``0o666`` less the umask). SVG and PDF carry no creation date and SVG element
    ids are salted with a fixed string, so the same figure writes the same bytes.

    Parameters
    ----------
    fig
        The figure.
    path
        Target file, ending in ``.png``, ``.svg`` or ``.pdf``.
    dpi
        Resolution of PNG output.

    Returns
    -------
    pathlib.Path
        The path written.

    Raises
    ------
    ValueError
        Any other suffix.
    resilience.outputs.OutputPathError
        ``path`` cannot be written (a folder in the way, read-only, ...: path and cause).
    """
    target = Path(path)
    fmt = _FORMATS.get(target.suffix.lower())
    if fmt is None:
        raise ValueError(
            f"save: cannot tell the format of {str(target)!r} from its suffix "
            f"{target.suffix!r}; use {', '.join(_FORMATS)}"
        )
    from resilience.outputs import atomic_write, check_writable_file

    check_writable_file(target)
    with (
        rc_context({"svg.hashsalt": "resilience"}),  # stable SVG element ids
        atomic_write(target) as handle,
    ):
        fig.savefig(handle, format=fmt, dpi=dpi, bbox_inches="tight", metadata=_NO_DATE[fmt])
    log.info("wrote %s", target)
    return target
