"""The book: chapters are committed without outputs, and the whole book builds with zero warnings.

The chapters themselves are executed cell by cell by nbval (``--nbval-lax`` in pyproject.toml collects
``book/**/*.ipynb``); the build test below executes them a second time, through Jupyter Book, exactly as
``make book`` does.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
NOTEBOOKS = sorted(p for p in BOOK.rglob("*.ipynb")
                   if not {".ipynb_checkpoints", "_build"} & set(p.relative_to(ROOT).parts))


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


# ---------------------------------------------------------------- notebooks are committed clean


def test_the_book_has_chapters():
    assert NOTEBOOKS, f"no notebooks found under {_rel(BOOK)}/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_rel)
def test_notebook_is_committed_without_outputs(path: Path):
    nb = json.loads(path.read_text(encoding="utf-8"))
    dirty = []
    for index, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        first_line = "".join(cell["source"]).strip().splitlines()[:1] or [""]
        where = f"{_rel(path)}, code cell {index} ({first_line[0][:60]!r})"
        if cell.get("outputs"):
            dirty.append(f"{where}: {len(cell['outputs'])} output(s)")
        if cell.get("execution_count") is not None:
            dirty.append(f"{where}: execution_count={cell['execution_count']}")
    assert not dirty, ("notebooks are committed without outputs or execution counts; clear them "
                       "(Jupyter: Edit > Clear Outputs of All Cells, then save):\n  " + "\n  ".join(dirty))


# ---------------------------------------------------------------- the book builds, warnings are errors


def _make_book_flags() -> list[str]:
    """The flags of ``make book``, read from the Makefile so that this test cannot drift from it."""
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^book:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert recipe, "the Makefile has no `book` target"
    command = next((line for line in recipe.group(1).splitlines() if "jupyter-book build" in line), None)
    assert command, "the Makefile's `book` target does not run `jupyter-book build`"
    args = shlex.split(command.split("jupyter-book build", 1)[1])
    flags, skip = [], False
    for arg in args[1:]:                  # args[0] is the source folder, "."
        if skip:
            skip = False
        elif arg == "--path-output":      # replaced by a temporary folder below
            skip = True
        else:
            flags.append(arg)
    return flags


def _toc_files(entry) -> list[str]:
    """Every ``file`` (and the ``root``) named anywhere in a parsed ``_toc.yml``."""
    files = []
    if isinstance(entry, dict):
        for key in ("root", "file"):
            if key in entry:
                files.append(entry[key])
        for value in entry.values():
            if isinstance(value, (list, dict)):
                files += _toc_files(value)
    elif isinstance(entry, list):
        for item in entry:
            files += _toc_files(item)
    return files


@pytest.fixture(scope="module")
def built_book(tmp_path_factory) -> Path:
    """Build the book once per test session into a temporary folder; return its ``_build/html``."""
    out = tmp_path_factory.mktemp("book")
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    command = [str(jupyter_book), "build", str(ROOT), "--path-output", str(out), *_make_book_flags()]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + "\n" + result.stderr).splitlines()[-80:])
        pytest.fail(f"`{shlex.join(command)}` exited with {result.returncode}; last lines:\n{tail}",
                    pytrace=False)
    return out / "_build" / "html"


def test_book_builds_without_warnings(built_book: Path):
    assert (built_book / "index.html").is_file()


def test_every_page_in_the_toc_is_built(built_book: Path):
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    pages = _toc_files(toc)
    assert pages, "_toc.yml lists no pages"
    missing = [page for page in pages if not (built_book / f"{page}.html").is_file()]
    assert not missing, f"pages in _toc.yml with no HTML in {built_book}: {missing}"
