"""Build the book as `make book` does, once per test session (shared by test_book.py and test_browser.py)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


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


def toc_pages() -> list[str]:
    """The pages of ``_toc.yml``, as paths relative to the root without extension (``book/intro``)."""
    return _toc_files(yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8")))


def build(out: Path) -> subprocess.CompletedProcess:
    """``jupyter-book build`` with the Makefile's flags into ``out``."""
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    command = [str(jupyter_book), "build", str(ROOT), "--path-output", str(out), *_make_book_flags()]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    result.args = shlex.join(command)
    return result
