"""Local worker processes for ``backend="processes"``: started, fed, and never waited on blindly.

Each worker is a fresh interpreter running ``python -m resilience.sweeps.worker``
(:mod:`resilience.sweeps.worker`) with two pipes as its channel. This is chosen over
:mod:`multiprocessing` on purpose: a spawned :mod:`multiprocessing` child re-imports the
caller's ``__main__``, so a plain script calling ``rs.sweep(..., backend="processes")``
without an ``if __name__ == "__main__":`` guard makes every child fail while
bootstrapping — and the parent waited on a pipe for ever. A worker started with ``-m``
imports only the package, so such a script simply works.

Nothing is waited on without a bound or a death check:

- a worker must say it is ready and accept the task within
  :data:`WORKER_START_TIMEOUT_S` seconds (60 s: importing the package takes one to five
  seconds on a busy machine);
- a worker that exits or is killed (at start or while solving) closes its pipe, which
  the parent notices at once; the error names the worker, its exit code or signal, what
  it was doing, the last lines it wrote to stderr, and the fix;
- an exception inside a worker is re-raised in the parent as itself (with the worker's
  traceback as a note).

On any error every worker is killed before the error propagates; on success each is
asked to exit (its input closed) and killed if it has not within a few seconds.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from resilience.errors import ResilienceError
from resilience.sweeps.wire import encode, receive, send

__all__ = ["WORKER_START_TIMEOUT_S", "SweepWorkerError", "run_pool", "worker_command"]

log = logging.getLogger(__name__)

#: Seconds a worker has to start (import the package) and accept the sweep's task.
WORKER_START_TIMEOUT_S = 60.0
#: Seconds a worker has to exit after its input is closed, before it is killed.
_EXIT_GRACE_S = 5.0
#: Lines of a worker's stderr kept for an error message.
_TAIL_LINES = 12

#: A log line of a worker (the format :mod:`resilience.sweeps.worker` configures).
_RECORD = re.compile(r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL) ([\w.]+): (.*)$")

_SEQUENTIAL = "or run the sweep with backend='sequential' (command line: --backend sequential)"


class SweepWorkerError(ResilienceError, RuntimeError):
    """A sweep worker (local process or Dask) failed to start, died, or cannot be reached."""


def worker_command() -> list[str]:
    """The command that starts one worker: this interpreter, ``-m resilience.sweeps.worker``.

    Raises
    ------
    SweepWorkerError
        When this interpreter does not know its own executable (an embedded Python).
    """
    if not sys.executable:
        raise SweepWorkerError(
            "cannot start sweep worker processes: this Python does not know its executable "
            f"(sys.executable is empty, e.g. an embedded interpreter); {_SEQUENTIAL}"
        )
    return [sys.executable, "-m", "resilience.sweeps.worker"]


def _environment() -> dict[str, str]:
    """The current environment, with the folder holding the ``resilience`` package on the path."""
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


@dataclass
class _Worker:
    index: int
    process: subprocess.Popen[bytes]
    state: str = "starting"  # starting -> installing -> idle <-> busy
    chunk: Sequence[tuple[int, Any]] = ()
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=_TAIL_LINES))
    threads: list[threading.Thread] = field(default_factory=list)

    @property
    def stdin(self) -> IO[bytes]:
        assert self.process.stdin is not None
        return self.process.stdin


def _read(worker: _Worker, inbox: queue.Queue[tuple[int, Any]]) -> None:
    """Forward the worker's messages to ``inbox``; ``None`` when its channel closes."""
    assert worker.process.stdout is not None
    try:
        while (message := receive(worker.process.stdout)) is not None:
            inbox.put((worker.index, message))
    except Exception as exc:  # noqa: BLE001 - a garbled channel is reported, not raised here
        inbox.put((worker.index, ("garbled", f"{type(exc).__name__}: {exc}")))
    inbox.put((worker.index, None))


def _drain(worker: _Worker) -> None:
    """Keep the last lines of the worker's stderr; pass its log records on to ``logging``.

    The worker logs ``LEVEL logger: message`` lines (:mod:`resilience.sweeps.worker`);
    each is re-logged here on the same logger and level, so that a worker's warning
    reaches the caller's handlers. Other output (a library printing) is logged at debug.
    """
    assert worker.process.stderr is not None
    with contextlib.suppress(ValueError, OSError):  # the pipe closed under us at shutdown
        for raw in worker.process.stderr:
            _relay(worker, raw)


def _relay(worker: _Worker, raw: bytes) -> None:
    """Keep one stderr line of ``worker`` and log it (see :func:`_drain`)."""
    line = raw.decode("utf-8", errors="replace").rstrip()
    worker.tail.append(line)
    record = _RECORD.match(line)
    if record is None:
        log.debug("sweep worker %d: %s", worker.index, line)
        return
    level, name, message = record.groups()
    logging.getLogger(name).log(
        logging.getLevelNamesMapping()[level], "[sweep worker %d] %s", worker.index, message
    )


def _start(index: int, command: list[str], inbox: queue.Queue[tuple[int, Any]]) -> _Worker:
    try:
        process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=_environment(),
            close_fds=True,
        )
    except OSError as exc:
        raise SweepWorkerError(
            f"cannot start a sweep worker process ({' '.join(command)}): {exc}; {_SEQUENTIAL}"
        ) from exc
    worker = _Worker(index, process)
    for target, args in ((_read, (worker, inbox)), (_drain, (worker,))):
        thread = threading.Thread(
            target=target, args=args, name=f"sweep-worker-{index}", daemon=True
        )
        thread.start()
        worker.threads.append(thread)
    return worker


def _how(process: subprocess.Popen[bytes]) -> str:
    try:
        code = process.wait(timeout=_EXIT_GRACE_S)
    except subprocess.TimeoutExpired:
        return "closed its channel but is still running"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"was killed by {name}"
    return f"exited with code {code}"


def _died(worker: _Worker, command: list[str], detail: str = "") -> SweepWorkerError:
    how = _how(worker.process)
    worker.threads[1].join(timeout=1.0)  # the last words on stderr
    if worker.state in ("starting", "installing"):
        doing = "before it was ready" if worker.state == "starting" else "while receiving the task"
        fix = (
            f"check that '{' '.join(command)}' runs in this environment (the resilience "
            f"package installed for this Python), {_SEQUENTIAL}"
        )
    else:
        points = [i for i, _ in worker.chunk]
        doing = f"while solving points {min(points)}-{max(points)}" if points else "while idle"
        fix = (
            "if it was killed (e.g. out of memory), use fewer workers (workers= / --workers) "
            f"{_SEQUENTIAL}"
        )
    tail = "\n    ".join(worker.tail) or "(nothing)"
    return SweepWorkerError(
        f"sweep worker {worker.index} (pid {worker.process.pid}) {how} {doing}"
        f"{f' ({detail})' if detail else ''}; its last error output:\n    {tail}\nfix: {fix}"
    )


def _raised(worker: _Worker, payload: tuple[BaseException | None, str]) -> BaseException:
    exc, text = payload
    if exc is None:
        last = text.strip().splitlines()[-1] if text.strip() else "unknown error"
        return SweepWorkerError(f"sweep worker {worker.index} failed: {last}\n{text}")
    exc.add_note(f"raised in sweep worker {worker.index}:\n{text}")
    return exc


def _stop(workers: Sequence[_Worker], *, kill: bool) -> None:
    for w in workers:
        if kill:
            w.process.kill()
        else:
            with contextlib.suppress(OSError):
                w.stdin.close()
    deadline = time.monotonic() + _EXIT_GRACE_S
    for w in workers:
        try:
            w.process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("sweep worker %d did not exit; killing it", w.index)
            w.process.kill()
            w.process.wait()
        for thread in w.threads:  # the pipes end with the process: let the readers finish
            thread.join(timeout=1.0)
        for stream in (w.process.stdin, w.process.stdout, w.process.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


class _Pool:
    """The parent's side of one sweep's workers: start, hand out chunks, collect."""

    def __init__(self, task_message: bytes, command: list[str], start_timeout_s: float) -> None:
        self.task_message = task_message
        self.command = command
        self.start_timeout_s = start_timeout_s
        self.inbox: queue.Queue[tuple[int, Any]] = queue.Queue()
        self.workers: list[_Worker] = []
        self.results: list[tuple[int, dict[str, Any]]] = []

    def run(
        self,
        chunks: Sequence[Sequence[tuple[int, Any]]],
        count: int,
        advance: Callable[[int], None],
    ) -> None:
        pending = deque(chunks)
        for i in range(max(1, min(count, len(chunks)))):
            self.workers.append(_start(i, self.command, self.inbox))
        deadline = time.monotonic() + self.start_timeout_s
        while pending or any(w.state != "idle" for w in self.workers):
            index, message = self._next(deadline)
            worker = self.workers[index]
            self._handle(worker, message, advance)
            for idle in (w for w in self.workers if w.state == "idle"):
                if not pending:
                    break
                idle.chunk, idle.state = pending.popleft(), "busy"
                self._send(idle, "chunk", idle.chunk)

    def _next(self, deadline: float) -> tuple[int, Any]:
        """The next message; a bounded wait while any worker is still starting."""
        starting = [w for w in self.workers if w.state in ("starting", "installing")]
        wait = max(0.0, deadline - time.monotonic()) if starting else None
        try:
            return self.inbox.get(timeout=wait)
        except queue.Empty:
            raise SweepWorkerError(
                f"{len(starting)} of {len(self.workers)} sweep workers did not start within "
                f"{self.start_timeout_s:.0f} s (pids "
                f"{', '.join(str(w.process.pid) for w in starting)}); the machine may be "
                f"overloaded: use fewer workers (workers= / --workers) {_SEQUENTIAL}"
            ) from None

    def _handle(self, worker: _Worker, message: Any, advance: Callable[[int], None]) -> None:
        if message is None:
            raise _died(worker, self.command)
        kind, payload = message
        if kind == "garbled":
            raise _died(worker, self.command, f"unreadable message: {payload}")
        if kind == "error":
            raise _raised(worker, payload)
        if kind == "result":
            self.results += payload
            advance(len(worker.chunk))
            worker.state, worker.chunk = "idle", ()
        elif kind == "installed":
            worker.state = "idle"
            log.debug("sweep worker %d ready", worker.index)
        elif kind == "ready":
            worker.state = "installing"
            self._send(worker, "install", None, encoded=self.task_message)

    def _send(self, worker: _Worker, kind: str, payload: Any, encoded: bytes | None = None) -> None:
        try:
            send(worker.stdin, kind, payload, encoded=encoded)
        except OSError:  # the worker is gone: say how
            raise _died(worker, self.command) from None


def run_pool(
    task: Any,
    chunks: Sequence[Sequence[tuple[int, Any]]],
    workers: int,
    advance: Callable[[int], None],
    *,
    command: list[str] | None = None,
    start_timeout_s: float = WORKER_START_TIMEOUT_S,
) -> list[tuple[int, dict[str, Any]]]:
    """Solve ``chunks`` of a sweep ``task`` on up to ``workers`` local worker processes.

    Parameters
    ----------
    task
        The :class:`~resilience.sweeps.engine.SweepTask` (sent once per worker).
    chunks
        ``(index, point)`` lists; each is solved by one worker.
    workers
        Processes to start (at most one per chunk).
    advance
        Called with the number of points of every finished chunk (progress bar).
    command, start_timeout_s
        The worker command (default :func:`worker_command`) and the start deadline.

    Returns
    -------
    list
        ``(index, row)`` of every point, in the order the chunks finished.

    Raises
    ------
    SweepWorkerError
        A worker could not be started, did not become ready within ``start_timeout_s``,
        or exited/was killed; the message names the worker, the cause and the fix.
    Exception
        What a worker raised while solving, re-raised here with the worker's traceback.
    """
    if not chunks:
        return []
    command = command or worker_command()
    try:
        task_message = encode("install", task)
    except Exception as exc:
        raise SweepWorkerError(
            f"the sweep task cannot be sent to worker processes ({exc}); {_SEQUENTIAL}"
        ) from exc
    pool = _Pool(task_message, command, start_timeout_s)
    ok = False
    try:
        pool.run(chunks, workers, advance)
        ok = True
    finally:
        _stop(pool.workers, kill=not ok)
    return pool.results
