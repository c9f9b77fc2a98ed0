"""``python -m resilience.report --as-of YYYY-MM-DD [--out DIR] [--definition FILE] [-v]``.

The ``report`` command on its own (the same as ``resilience report``), for schedulers
and tests that want the smallest entry point. ``-v``/``--verbose`` logs progress.
"""

from __future__ import annotations

import logging
import sys

import typer

from resilience.cli.report_cmd import report


def main(argv: list[str] | None = None) -> None:
    """Run the command line (``argv`` defaults to ``sys.argv[1:]``)."""
    args = list(sys.argv[1:] if argv is None else argv)
    verbose = any(a in ("-v", "--verbose") for a in args)
    args = [a for a in args if a not in ("-v", "--verbose")]
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        handlers=[logging.StreamHandler(sys.stderr)],
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command("report")(report)
    app(args=args, prog_name="python -m resilience.report")


if __name__ == "__main__":
    main()
