"""resilience.outputs: output locations checked up front, atomic writes with the umask's mode."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from resilience.outputs import (
    OutputPathError,
    atomic_write,
    cause_of,
    check_writable_dir,
    check_writable_file,
    make_dir,
    write_bytes_atomic,
)


@pytest.fixture
def umask_022() -> Iterator[None]:
    old = os.umask(0o022)
    yield
    os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_missing_folders_are_checked_not_created_then_made_on_writing(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "c"
    check_writable_dir(target, None)
    assert list(tmp_path.iterdir()) == []  # a check creates nothing and the probe is gone
    write_bytes_atomic(target / "x.bin", b"x")
    assert (target / "x.bin").read_bytes() == b"x"


def test_a_file_in_the_way_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "results"
    blocker.write_text("not a folder")
    with pytest.raises(OutputPathError, match=r"results: a file is in the way"):
        check_writable_dir(blocker)
    with pytest.raises(OutputPathError, match=r"not a directory: .*results is a file"):
        check_writable_dir(blocker / "deeper" / "still")
    assert blocker.read_text() == "not a folder"
    with pytest.raises(OutputPathError, match=r"its folder .*results: a file is in the way"):
        check_writable_file(blocker / "x.parquet")


def test_a_dangling_link_as_output_folder_says_where_it_points(tmp_path: Path) -> None:
    link = tmp_path / "out"
    link.symlink_to(tmp_path / "gone")
    with pytest.raises(OutputPathError, match=r"symbolic link \(to .*gone\), which does not exist"):
        check_writable_dir(link)
    assert not (tmp_path / "gone").exists()


def test_a_folder_where_a_file_is_expected(tmp_path: Path) -> None:
    with pytest.raises(OutputPathError, match=r"it is a folder, not a file"):
        check_writable_file(tmp_path)


def test_proc_paths_fail_with_the_cause() -> None:
    if not Path("/proc/version").is_file():
        pytest.skip("no /proc on this system")
    with pytest.raises(OutputPathError, match=r"/proc/version/out: not a directory"):
        check_writable_dir("/proc/version/out")
    with pytest.raises(OutputPathError, match=r"/proc/nonexistent-resilience: cannot create it"):
        check_writable_dir("/proc/nonexistent-resilience")


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permission bits (chmod 0555)")
def test_a_read_only_folder_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(OutputPathError, match=r"ro: permission denied"):
            check_writable_dir(folder)
        with pytest.raises(OutputPathError, match=r"cannot create it: permission denied"):
            check_writable_file(folder / "sub" / "x.csv")
    finally:
        folder.chmod(0o755)


def test_cause_of_names_common_errors() -> None:
    import errno

    assert cause_of(OSError(errno.EROFS, "x")) == "read-only file system"
    assert cause_of(OSError(errno.EACCES, "x")) == "permission denied"
    assert cause_of(OSError(errno.ENOSPC, "x")) == "no space left on device"


def test_atomic_write_respects_the_umask(tmp_path: Path) -> None:
    for mask, expected in ((0o022, 0o644), (0o077, 0o600), (0o002, 0o664)):
        old = os.umask(mask)
        try:
            path = write_bytes_atomic(tmp_path / f"f{mask:o}.bin", b"abc")
            folder = make_dir(tmp_path, f"d{mask:o}-")
        finally:
            os.umask(old)
        assert _mode(path) == expected
        assert _mode(folder) == 0o777 & ~mask
        assert path.read_bytes() == b"abc"


def test_atomic_write_leaves_the_target_on_error(tmp_path: Path, umask_022: None) -> None:
    target = tmp_path / "table.parquet"
    target.write_bytes(b"old")

    def half_write() -> None:
        with atomic_write(target) as handle:
            handle.write(b"half")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        half_write()
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.parquet"]


def test_atomic_write_replaces_a_link_instead_of_following_it(
    tmp_path: Path, umask_022: None
) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"keep me")
    link = tmp_path / "out.csv"
    link.symlink_to(victim)
    write_bytes_atomic(link, b"new")
    assert victim.read_bytes() == b"keep me"
    assert not link.is_symlink()
    assert link.read_bytes() == b"new"
    assert _mode(link) == 0o644
