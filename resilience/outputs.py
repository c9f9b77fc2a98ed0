"""Where the package writes: output locations checked up front, files written atomically.

Every command that writes output calls :func:`check_writable_dir` or
:func:`check_writable_file` on its output location *before* it loads, solves or builds
anything, so a long sweep is never lost to a read-only path; the error is one line naming
the path and the cause (read-only file system, not a directory, a file in the way,
permission denied, ...).

Files are written with the mode a plain ``open`` gives them (``0o666`` less the
process umask: ``0644`` under umask ``022``), never the ``0600`` of
:func:`tempfile.mkstemp`: :func:`atomic_write` and :func:`write_bytes_atomic` write to a
hidden temporary name in the target folder, created without following symbolic links,
and rename it over the target in one step; :func:`make_dir` creates a fresh folder with
the umask's mode (unlike :func:`tempfile.mkdtemp`, which gives ``0700``).
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import secrets
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from resilience.errors import ResilienceError

__all__ = [
    "OutputPathError",
    "atomic_write",
    "cause_of",
    "check_writable_dir",
    "check_writable_file",
    "create_file_at",
    "describe_link",
    "make_dir",
    "write_bytes_atomic",
]

log = logging.getLogger(__name__)

#: Mode of new files before the umask (what ``open(path, "w")`` uses).
FILE_MODE = 0o666
#: Mode of new folders before the umask (what ``mkdir`` uses).
DIR_MODE = 0o777
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_CAUSES = {
    errno.EROFS: "read-only file system",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted (an immutable or protected folder)",
    errno.ENOTDIR: "not a directory",
    errno.EISDIR: "is a directory",
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.ENOENT: "no such file or directory (cannot be created there)",
    errno.ELOOP: "a symbolic link where a file or folder was expected",
    errno.ENAMETOOLONG: "file name too long",
    errno.EEXIST: "already exists",
}


class OutputPathError(ResilienceError, OSError):
    """An output location cannot be written, or is not what the program expects there.

    Also an :class:`OSError`, so that code catching file-system errors catches it.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)

    def __str__(self) -> str:
        return str(self.args[0])


def cause_of(exc: OSError) -> str:
    """The cause of a file-system error in plain words (``read-only file system``...)."""
    if exc.errno in _CAUSES:
        return _CAUSES[exc.errno]
    return exc.strerror or type(exc).__name__


def describe_link(path: Path, dir_fd: int | None = None) -> str:
    """``path`` and where the symbolic link at ``path`` points (for error messages)."""
    try:
        target = os.readlink(path if dir_fd is None else path.name, dir_fd=dir_fd)
    except OSError:
        target = "?"
    return f"{path} is a symbolic link (to {target})"


def _first_existing(path: Path) -> Path:
    """The longest existing prefix of ``path`` (``path`` itself when it exists)."""
    current = path
    while not os.path.lexists(current) and current != current.parent:
        current = current.parent
    return current


def _probe(folder: Path) -> None:
    """Create and drop a nameless file in ``folder`` (``O_TMPFILE`` where the kernel has it)."""
    with tempfile.TemporaryFile(dir=folder):
        pass


def _dir_problem(path: Path) -> str | None:
    """Why ``path`` cannot be an output folder (missing folders are not created), or ``None``."""
    existing = _first_existing(path)
    if os.path.lexists(existing) and not existing.is_dir():
        if existing != path:
            return f"not a directory: {existing} is a file, not a folder"
        if existing.is_symlink() and not existing.exists():
            return f"{describe_link(existing)}, which does not exist"
        return "a file is in the way (it exists and is not a folder)"
    if not os.path.lexists(path):
        # Nothing is created by a check: a command that then fails on its inputs leaves no
        # empty folder behind. The missing folders are made when the output is written
        # (atomic_write, make_dir), so the first existing parent must take new entries.
        try:
            _probe(existing)
        except OSError as exc:
            return f"cannot create it in {existing}: {cause_of(exc)}"
        return None
    try:
        _probe(path)
    except OSError as exc:
        return cause_of(exc)
    return None


def check_writable_dir(*paths: str | Path | None) -> None:
    """Make sure each output folder can be written (or created, like ``mkdir -p``, on writing).

    ``None`` entries are skipped, so a command can pass its optional ``--out`` as is.

    Raises
    ------
    OutputPathError
        Naming the path and the cause: a file is in the way (the path, or one of its
        parents, is a file), the folder cannot be created, or a file cannot be created
        in it (read-only file system, permission denied, ...).
    """
    for raw in paths:
        if raw is None:
            continue
        path = Path(raw).expanduser()
        problem = _dir_problem(path)
        if problem is not None:
            raise OutputPathError(f"cannot write to output folder {path}: {problem}")


def check_writable_file(*paths: str | Path | None) -> None:
    """Make sure each output file can be written: its folder (created if missing) and itself.

    ``None`` entries are skipped. An existing file must be writable; its folder must take
    new files too, since files are replaced by a rename (:func:`atomic_write`).

    Raises
    ------
    OutputPathError
        Naming the path and the cause: a folder is in the way, a parent is a file, the
        file or its folder is read-only, permission denied, ...
    """
    for raw in paths:
        if raw is None:
            continue
        path = Path(raw).expanduser()
        if path.is_dir():
            problem: str | None = "it is a folder, not a file (give a file name)"
        else:
            problem = _dir_problem(path.parent)
            if problem is not None:
                problem = f"its folder {path.parent}: {problem}"
            elif path.exists() and not os.access(path, os.W_OK):
                problem = "the file is read-only (or permission denied)"
        if problem is not None:
            raise OutputPathError(f"cannot write to output file {path}: {problem}")


def create_file_at(name: str, dir_fd: int, mode: int = FILE_MODE) -> int:
    """Create the new file ``name`` in the folder open as ``dir_fd``; its descriptor.

    The file must not exist yet (``O_EXCL``) and a symbolic link is never followed
    (``O_NOFOLLOW``): whatever an attacker put at that name, nothing outside is written.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC
    return os.open(name, flags, mode, dir_fd=dir_fd)


def make_dir(parent: Path, prefix: str) -> Path:
    """Create a new, empty folder ``parent/<prefix><random>`` with the umask's mode.

    ``parent`` and its missing parents are created first (``mkdir -p``).
    """
    parent.mkdir(DIR_MODE, parents=True, exist_ok=True)
    for _ in range(100):
        path = parent / f"{prefix}{secrets.token_hex(4)}"
        try:
            path.mkdir(DIR_MODE)
        except FileExistsError:
            continue
        return path
    raise OutputPathError(f"cannot create a temporary folder in {parent}: every name is taken")


@contextlib.contextmanager
def atomic_write(target: str | Path) -> Iterator[BinaryIO]:
    """A binary handle whose content replaces ``target`` in one rename on success.

    The content goes to a new hidden file beside ``target`` (``O_EXCL``, never through a
    symbolic link, mode ``0o666`` less the umask), is flushed to disk, and is renamed
    over ``target`` when the ``with`` block ends without an error; on an error the
    temporary file is removed and ``target`` is left as it was. A symbolic link at
    ``target`` is replaced by the file, never written through.
    """
    final = Path(target)
    final.parent.mkdir(DIR_MODE, parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC
    for _ in range(100):
        tmp = final.parent / f".{final.name}.{secrets.token_hex(4)}.tmp"
        try:
            fd = os.open(tmp, flags, FILE_MODE)
        except FileExistsError:
            continue
        break
    else:
        raise OutputPathError(f"cannot create a temporary file beside {final}")
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes_atomic(target: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``target`` atomically (see :func:`atomic_write`); the path."""
    with atomic_write(target) as handle:
        handle.write(data)
    return Path(target)
