"""The reader and student notebooks that the book's build writes (tools/reader_notebooks.py), checked against
the HTML of the same build: the numbers a notebook shows are the numbers the page shows."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from book_build import ROOT, toc_pages

sys.path.insert(0, str(ROOT / "tools"))   # as Sphinx's local_extensions does
import publish_notebooks  # noqa: E402
import reader_notebooks as rn  # noqa: E402

CHAPTERS = [p for p in toc_pages() if (ROOT / f"{p}.ipynb").is_file()]
CONFIG_BRANCH = publish_notebooks.configured_branch()


@pytest.fixture(scope="module")
def notebooks(built_book: Path) -> Path:
    return built_book.parent / "notebooks"


def read(path: Path):
    return nbformat.read(path, as_version=4)


def markdown(nb) -> str:
    return "\n\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


def test_every_chapter_has_a_reader_and_a_student_notebook(notebooks):
    written = sorted(str(p.relative_to(notebooks)) for p in notebooks.rglob("*.ipynb"))
    expected = sorted([rn.published_path(c) for c in CHAPTERS] + [rn.published_path(c, True) for c in CHAPTERS])
    assert written == expected
    index = json.loads((notebooks / "book.json").read_text())
    assert index["branch"] == CONFIG_BRANCH and sorted(index["chapters"]) == sorted(CHAPTERS)


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_no_myst_is_left_and_the_numbers_are_the_pages(notebooks, built_book, chapter):
    page = (built_book / f"{chapter}.html").read_text(encoding="utf-8")
    for student in (False, True):
        nb = read(notebooks / rn.published_path(chapter, student))
        nbformat.validate(nb)
        text = markdown(nb)
        for markup in ("{cite", "{eq}", "{prf:", "{doc}", "{ref}", ":::", "```{", ":label:", ":class:"):
            assert markup not in text, f"{chapter}: {markup!r} left in the notebook"
        assert not re.search(r"\$\$\s*\([\w-]+\)", text) and not re.search(r"^\([\w-]+\)=", text, re.M)
    nb = read(notebooks / rn.published_path(chapter))
    text = markdown(nb)
    # equations: the \tag numbers in order are the page's equation numbers in order
    page_eqs = re.findall(r'<span class="eqno">\(([\d.]+)\)', page)
    assert re.findall(r"\\tag\{([\d.]+)\}", text) == page_eqs
    # propositions, algorithms, exercises: the bold titles' numbers are the page's caption numbers
    page_captions = re.findall(r'<span class="caption-number">(Proposition|Algorithm|Exercise|Theorem|Lemma) '
                               r"([\d.]+)\s*</span>", page)
    assert re.findall(r"^\*\*(Proposition|Algorithm|Exercise|Theorem|Lemma) ([\d.]+)", text, re.M) == page_captions
    # section numbers: headings in order
    page_sections = [n.rstrip(".") for n in re.findall(r'<span class="section-number">([\d.]+)\s*</span>', page)]
    prose = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)  # a code block's "# ..." is a comment
    headings = re.findall(r"^#{1,6} ([\d.]+) ", prose, re.M)
    assert headings == page_sections[:len(headings)]
    assert len(headings) >= 2 or not page_sections, "the Foundations are numbered, the labs are not"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_the_code_is_the_chapters_and_the_references_are_listed(notebooks, chapter):
    source = read(ROOT / f"{chapter}.ipynb")
    reader = read(notebooks / rn.published_path(chapter))
    strip = lambda s: re.sub(r"^# @title .*\n", "", s)  # noqa: E731
    assert [strip(c.source) for c in reader.cells if c.cell_type == "code"] == \
        [c.source for c in source.cells if c.cell_type == "code"]
    assert all(not c.outputs for c in reader.cells if c.cell_type == "code")
    cited = {k.strip() for c in source.cells if c.cell_type == "markdown"
             for group in re.findall(r"\{cite(?::\w+)?\}`([^`]*)`", c.source) for k in group.split(",")}
    listed = re.split(r"^#+ [\d.]*\s*References\s*$", markdown(reader), flags=re.M)[-1]
    references = re.findall(r"^- ", listed, re.M)
    assert len(references) == len(cited), f"{chapter}: {len(cited)} works cited, {len(references)} listed"
    assert "colab.research.google.com/github/" in reader.cells[0].source


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_student_notebooks_have_no_solutions(notebooks, chapter):
    student = read(notebooks / rn.published_path(chapter, True))
    code = "\n".join(c.source for c in student.cells if c.cell_type == "code")
    assert "BEGIN SOLUTION" not in code and "END SOLUTION" not in code
    if "check(" in code:
        assert "solutions removed" in student.cells[0].source


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_launch_buttons_open_the_reader_notebook_and_the_download_is_it(notebooks, built_book, chapter):
    page = (built_book / f"{chapter}.html").read_text(encoding="utf-8")
    reader = read(notebooks / rn.published_path(chapter))
    badge = re.search(r"\((https://colab\.research\.google\.com/github/[^)]+)\)", reader.cells[0].source).group(1)
    assert f'href="{badge}"' in page, f"{chapter}: the page's Colab button is not {badge}"
    assert badge.endswith(f"/blob/{CONFIG_BRANCH}/{rn.published_path(chapter)}")
    download = re.search(r'href="([^"]*_sources/[^"]+\.ipynb)"', page).group(1)
    downloaded = read((built_book / chapter).parent / download)
    assert downloaded == reader


def test_the_exercises_page_links_every_student_notebook(notebooks, built_book):
    page_path = built_book / "book" / "exercises.html"
    page = page_path.read_text(encoding="utf-8")
    with_checks = [c for c in CHAPTERS if "check(" in (ROOT / f"{c}.ipynb").read_text()]
    assert with_checks
    for chapter in with_checks:
        path = rn.published_path(chapter, True)
        assert f"/blob/{CONFIG_BRANCH}/{path}" in page, f"no Colab link to {path}"
        href = re.search(rf'href="([^"]*_notebooks/{re.escape(path)})"', page).group(1)
        assert read((page_path.parent / href).resolve()) == read(notebooks / path)


def test_publishing_commits_the_folder_as_the_branch(notebooks, tmp_path):
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", "-b", "main", repo], check=True)
    for args in (["config", "user.email", "t@example.org"], ["config", "user.name", "t"],
                 ["commit", "-q", "--allow-empty", "-m", "start"]):
        subprocess.run(["git", *args], cwd=repo, check=True)
    first = publish_notebooks.publish(notebooks, "notebooks", repo=repo)
    assert first
    files = subprocess.run(["git", "ls-tree", "-r", "--name-only", "notebooks"], cwd=repo, capture_output=True,
                           text=True, check=True).stdout.split()
    assert sorted(files) == sorted(str(p.relative_to(notebooks)) for p in notebooks.rglob("*") if p.is_file())
    assert publish_notebooks.publish(notebooks, "notebooks", repo=repo) is None, "unchanged: no new commit"
    status = subprocess.run(["git", "status", "--porcelain"], cwd=repo, capture_output=True, text=True).stdout
    assert status == "" and subprocess.run(["git", "branch", "--show-current"], cwd=repo, capture_output=True,
                                           text=True).stdout.strip() == "main", "the working tree is left alone"
    with pytest.raises(FileNotFoundError, match="make notebooks"):
        publish_notebooks.publish(tmp_path, "notebooks", repo=repo)
