"""The book: chapters are committed without outputs, and the whole book builds with zero warnings.

The chapters themselves are executed cell by cell by nbval (``--nbval-lax`` in pyproject.toml collects
``book/**/*.ipynb``); the build test below executes them a second time, through Jupyter Book, exactly as
``make book`` does.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from book_build import ROOT, toc_pages

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


def test_book_builds_without_warnings(built_book: Path):
    """The ``built_book`` fixture (conftest.py) fails when the build exits non-zero, as -W makes it do."""
    assert (built_book / "index.html").is_file()


def test_every_page_in_the_toc_is_built(built_book: Path):
    pages = toc_pages()
    assert pages, "_toc.yml lists no pages"
    missing = [page for page in pages if not (built_book / f"{page}.html").is_file()]
    assert not missing, f"pages in _toc.yml with no HTML in {built_book}: {missing}"
