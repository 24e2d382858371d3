"""The book: chapters are committed clean (no outputs, no Colab metadata), and the whole book builds with zero
warnings.

The chapters themselves are executed cell by cell by nbval (``--nbval-lax`` in pyproject.toml collects
``book/**/*.ipynb``); the build test below executes them a second time, through Jupyter Book, exactly as
``make book`` does.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from book_build import ROOT, toc_pages

_spec = importlib.util.spec_from_file_location("clean_notebooks", ROOT / "tools" / "clean_notebooks.py")
clean_notebooks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(clean_notebooks)

BOOK = ROOT / "book"
NOTEBOOKS = sorted(p for p in BOOK.rglob("*.ipynb")
                   if not {".ipynb_checkpoints", "_build"} & set(p.relative_to(ROOT).parts))


def _rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


# ---------------------------------------------------------------- notebooks are committed clean


def test_the_book_has_chapters():
    assert NOTEBOOKS, f"no notebooks found under {_rel(BOOK)}/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_rel)
def test_notebook_is_committed_clean(path: Path):
    """No outputs, execution counts, widget state or Colab metadata, and the python3 kernel
    (``tools/clean_notebooks.py`` says what clean means; tests/test_notebooks_clean.py tests it)."""
    dirty = clean_notebooks.problems(json.loads(path.read_text(encoding="utf-8")))
    assert not dirty, (f"{_rel(path)} is not committed clean; run `make clean-notebooks`:\n  "
                       + "\n  ".join(dirty))


# ---------------------------------------------------------------- the book builds, warnings are errors


def test_book_builds_without_warnings(built_book: Path):
    """The ``built_book`` fixture (conftest.py) fails when the build exits non-zero, as -W makes it do."""
    assert (built_book / "index.html").is_file()


def test_every_page_in_the_toc_is_built(built_book: Path):
    pages = toc_pages()
    assert pages, "_toc.yml lists no pages"
    missing = [page for page in pages if not (built_book / f"{page}.html").is_file()]
    assert not missing, f"pages in _toc.yml with no HTML in {built_book}: {missing}"
