"""Hostile submissions folders: links, devices, FIFOs, huge files and clashing names each get a row, unread."""

import json
import os
import socket
import threading

import pytest

from adamcourse.grading.submissions import discover, safe_id

NOTEBOOK = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}).encode()


def rows(folder, **kw):
    return {s.entry: s for s in discover(folder, **kw)}


def test_notebooks_and_folders_are_read_once_into_memory(tmp_path):
    (tmp_path / "bob.ipynb").write_bytes(NOTEBOOK)
    (tmp_path / "carol" / "hw").mkdir(parents=True)
    (tmp_path / "carol" / "hw" / "lab.ipynb").write_bytes(NOTEBOOK + b" ")
    (tmp_path / "carol" / ".ipynb_checkpoints").mkdir()
    (tmp_path / "carol" / ".ipynb_checkpoints" / "lab-checkpoint.ipynb").write_bytes(b"old")
    (tmp_path / "README.md").write_text("not a submission")
    got = rows(tmp_path)
    assert set(got) == {"bob.ipynb", "carol"}
    assert (got["bob.ipynb"].student, got["bob.ipynb"].notebook, got["bob.ipynb"].problem) == ("bob", NOTEBOOK, None)
    assert got["carol"].path == "carol/hw/lab.ipynb" and got["carol"].notebook == NOTEBOOK + b" "
    (tmp_path / "bob.ipynb").write_bytes(b"swapped")  # what was read does not change
    assert got["bob.ipynb"].notebook == NOTEBOOK


def test_links_are_refused_not_followed(tmp_path):
    (tmp_path / "alice.ipynb").write_bytes(NOTEBOOK)
    (tmp_path / "mallory.ipynb").symlink_to(tmp_path / "alice.ipynb")
    (tmp_path / "zero.ipynb").symlink_to("/dev/zero")
    (tmp_path / "eve").symlink_to(tmp_path)
    (tmp_path / "trudy").mkdir()
    (tmp_path / "trudy" / "hw.ipynb").symlink_to(tmp_path / "alice.ipynb")
    got = rows(tmp_path)
    assert got["alice.ipynb"].notebook == NOTEBOOK
    for entry in ["mallory.ipynb", "zero.ipynb", "eve", "trudy"]:
        assert got[entry].notebook is None, entry
        assert "symbolic link" in got[entry].problem, got[entry].problem


def test_fifo_socket_and_device_get_a_row_without_blocking(tmp_path):
    os.mkfifo(tmp_path / "fifo.ipynb")
    (tmp_path / "dan").mkdir()
    os.mkfifo(tmp_path / "dan" / "hw.ipynb")
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(tmp_path / "sock.ipynb"))
        if os.geteuid() == 0:
            os.mknod(tmp_path / "dev.ipynb", 0o600 | 0o020000, os.makedev(1, 5))  # a copy of /dev/zero
        result = []
        worker = threading.Thread(target=lambda: result.append(rows(tmp_path)), daemon=True)
        worker.start()
        worker.join(10)
    assert result, "discover blocked"
    got = result[0]
    assert "FIFO" in got["fifo.ipynb"].problem and "FIFO" in got["dan"].problem
    assert "socket" in got["sock.ipynb"].problem
    if os.geteuid() == 0:
        assert "character device" in got["dev.ipynb"].problem
    assert all(s.notebook is None for s in got.values())


def test_size_cap(tmp_path):
    (tmp_path / "big.ipynb").write_bytes(b"x" * 2001)
    (tmp_path / "ok.ipynb").write_bytes(b"x" * 2000)
    got = rows(tmp_path, max_bytes=2000)
    assert got["big.ipynb"].notebook is None and "over the" in got["big.ipynb"].problem
    assert got["ok.ipynb"].notebook == b"x" * 2000


def test_clashing_names_get_distinct_safe_ids(tmp_path):
    (tmp_path / "alice").mkdir()
    (tmp_path / "alice" / "hw.ipynb").write_bytes(NOTEBOOK)
    for name in ["alice.ipynb", "alice-2.ipynb", "BOB.ipynb", "bob.ipynb", "x; rm -rf ~.ipynb", "José Ü.ipynb"]:
        (tmp_path / name).write_bytes(NOTEBOOK)
    first = [(s.entry, s.student) for s in discover(tmp_path)]
    assert first == [(s.entry, s.student) for s in discover(tmp_path)]  # deterministic
    ids = dict(first)
    assert len({i.lower() for i in ids.values()}) == len(ids) == 7
    assert [ids["alice"], ids["alice-2.ipynb"], ids["alice.ipynb"]] == ["alice", "alice-2", "alice-3"]
    assert [ids["BOB.ipynb"], ids["bob.ipynb"]] == ["BOB", "bob-2"]
    ids = list(ids.values())
    assert all(i == safe_id(i) and i[0].isalnum() and "/" not in i for i in ids)


def test_folders_with_zero_or_several_notebooks(tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "two").mkdir()
    (tmp_path / "two" / "a.ipynb").write_bytes(NOTEBOOK)
    (tmp_path / "two" / "b.ipynb").write_bytes(NOTEBOOK)
    got = rows(tmp_path)
    assert got["empty"].problem.startswith("no notebook")
    assert "several notebooks (two/a.ipynb, two/b.ipynb)" in got["two"].problem


def test_missing_folder_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="submissions folder"):
        discover(tmp_path / "nope")
