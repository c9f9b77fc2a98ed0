"""A sweep worker process: ``python -m resilience.sweeps.worker``.

Started by :mod:`resilience.sweeps.pool` with its standard input and output as a private
message channel (:mod:`resilience.sweeps.wire`). Because the worker is a fresh
interpreter running this module, it never imports the caller's ``__main__``: a script
that calls ``rs.sweep(..., backend="processes")`` at top level, without an
``if __name__ == "__main__":`` guard, works (with :mod:`multiprocessing`'s spawn method
each child would re-run that script and fail while bootstrapping).

Protocol: the worker says ``ready`` (with its pid) once imported; it receives the sweep
task once (``install``, answered by ``installed``), then chunks of points (``chunk``,
answered by ``result``); an exception is answered by ``error`` with the exception (when
it pickles) and its traceback. The worker exits when its input closes.
"""

from __future__ import annotations

import logging
import os
import pickle
import sys
import traceback
from typing import IO, Any

from resilience.sweeps.wire import receive, send

log = logging.getLogger(__name__)


def _portable(exc: BaseException) -> BaseException | None:
    """``exc`` if it survives a pickle round trip (to be re-raised in the parent)."""
    try:
        copy = pickle.loads(pickle.dumps(exc))
    except Exception:  # noqa: BLE001 - any failure means: send the text only
        return None
    return copy if isinstance(copy, BaseException) else None


def _serve(channel_in: IO[bytes], channel_out: IO[bytes]) -> int:
    from resilience.sweeps.engine import SweepTask, run_chunk  # the heavy imports

    send(channel_out, "ready", os.getpid())
    task: SweepTask | None = None
    while True:
        try:
            message = receive(channel_in)
            if message is None:
                return 0
            kind, payload = message
            answer: tuple[str, Any]
            if kind == "install":
                task = payload
                answer = ("installed", None)
            elif kind == "chunk" and task is not None:
                answer = ("result", run_chunk(task, payload))
            else:
                raise ValueError(f"sweep worker: unexpected message {kind!r}")
        except Exception as exc:  # noqa: BLE001 - every failure goes back to the parent
            answer = ("error", (_portable(exc), traceback.format_exc()))
        send(channel_out, *answer)


def main() -> int:
    """Serve one sweep over standard input and output; return the exit code."""
    channel_in = os.fdopen(os.dup(0), "rb")
    channel_out = os.fdopen(os.dup(1), "wb")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    os.dup2(2, 1)  # anything printed (a solver banner, a library) goes to stderr, not the channel
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return _serve(channel_in, channel_out)
    except BrokenPipeError:  # the parent went away: nothing left to answer
        return 0


if __name__ == "__main__":
    sys.exit(main())
