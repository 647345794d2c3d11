import pytest

from kprtrack.io import atomic
from kprtrack.io.atomic import atomic_open, atomic_write_text, check_writable


def test_atomic_write_replaces_file(tmp_path):
    p = tmp_path / "a.json"
    atomic_write_text(p, "old")
    atomic_write_text(p, "new")
    assert p.read_text() == "new"
    assert [f.name for f in tmp_path.iterdir()] == ["a.json"]


def test_crash_mid_write_leaves_old_file_intact(tmp_path):
    p = tmp_path / "a.json"
    atomic_write_text(p, '{"complete": true}')
    with pytest.raises(RuntimeError):
        with atomic_open(p) as f:
            f.write('{"compl')
            raise RuntimeError("simulated crash")
    assert p.read_text() == '{"complete": true}'
    assert [f.name for f in tmp_path.iterdir()] == ["a.json"]


def test_crash_during_rename_leaves_old_file(tmp_path, monkeypatch):
    p = tmp_path / "a.json"
    atomic_write_text(p, "old")

    def boom(src, dst):
        raise OSError("disk gone")

    monkeypatch.setattr(atomic.os, "replace", boom)
    with pytest.raises(OSError):
        atomic_write_text(p, "new")
    assert p.read_text() == "old"
    assert [f.name for f in tmp_path.iterdir()] == ["a.json"]


def test_check_writable_rejects_directory_and_unwritable_parent(tmp_path):
    with pytest.raises(IsADirectoryError):
        check_writable(tmp_path)
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OSError, match="cannot write"):
        check_writable(blocker / "sub" / "x.json")
