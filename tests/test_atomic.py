"""Files rewritten whole or not at all (caches, a README's results)."""

import pytest

from fer_lightning.atomic import replaced_atomically


def test_a_write_cut_short_leaves_the_old_file_and_no_temporary_one(tmp_path):
    path = tmp_path / "README.md"
    path.write_text("the old text\n")
    with pytest.raises(KeyboardInterrupt), replaced_atomically(path) as f:
        f.write("half of the new")
        raise KeyboardInterrupt
    assert path.read_text() == "the old text\n"
    assert [p.name for p in tmp_path.iterdir()] == ["README.md"]


def test_a_finished_write_replaces_the_file_and_keeps_its_mode(tmp_path):
    path = tmp_path / "README.md"
    path.write_text("old")
    path.chmod(0o640)
    with replaced_atomically(path) as f:
        f.write("new")
    assert path.read_text() == "new" and path.stat().st_mode & 0o777 == 0o640


def test_a_new_file_and_its_folder_are_made_as_open_would(tmp_path):
    path = tmp_path / "cache" / "faces.npz"
    with replaced_atomically(path, "wb") as f:
        f.write(b"\x00")
    assert path.read_bytes() == b"\x00"
    (tmp_path / "plain").write_bytes(b"")  # the mode open() gives under this umask
    assert path.stat().st_mode & 0o777 == (tmp_path / "plain").stat().st_mode & 0o777
