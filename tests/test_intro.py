"""The front page, book/intro.md: its chapter times come from the benchmark's JSON, it links every page of the
table of contents and nothing else, it starts with "Start here", and the commands it quotes parse."""

from __future__ import annotations

import json
import math
import re
import shlex

import pytest

from adamcourse.grading.cli import build_parser

from book_build import ROOT, toc_pages

INTRO = ROOT / "book" / "intro.md"
TIMINGS = ROOT / "benchmarks" / "results" / "chapters-cpu.json"
TEXT = INTRO.read_text(encoding="utf-8")
PROSE = re.sub(r"^```.*?^```", "", TEXT, flags=re.MULTILINE | re.DOTALL)   # without fenced code blocks
PROSE_NO_CODE = re.sub(r"`[^`\n]*`(?!`)", "", re.sub(r"\{doc\}`[^`]*`", "", PROSE))

MD_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
DOC_ROLE = re.compile(r"\{doc\}`(?:[^`<]*<)?([^`>]+)>?`")


def _page(target: str) -> str:
    """A link's target as a toc page name (``book/foundations/adam``); fails if no such file exists."""
    path = (INTRO.parent / target.split("#")[0]).resolve()
    candidates = [path] if path.suffix in (".md", ".ipynb") else [path.with_suffix(".md"), path.with_suffix(".ipynb")]
    found = [p for p in candidates if p.is_file()]
    assert found, f"intro.md links to {target!r}, but {', '.join(str(p.relative_to(ROOT)) for p in candidates)} " \
                  "does not exist"
    return str(found[0].relative_to(ROOT).with_suffix(""))


def _links() -> list[str]:
    """Every internal link target of intro.md: Markdown links (outside code) and {doc} roles."""
    targets = MD_LINK.findall(PROSE_NO_CODE) + DOC_ROLE.findall(PROSE)
    return [t for t in targets if not re.match(r"[a-z]+:|#", t)]


def _chapter_table() -> tuple[list[str], list[list[str]]]:
    """The header and the rows of the table under '## Chapters'."""
    section = re.search(r"^## Chapters\n(.*?)(?=^## )", TEXT, re.MULTILINE | re.DOTALL)
    assert section, "intro.md has no '## Chapters' section"
    lines = [line for line in section.group(1).splitlines() if line.startswith("|")]
    assert len(lines) > 2, "the Chapters section has no table"
    cells = [[c.strip() for c in line.strip().strip("|").split("|")] for line in lines]
    header, rows = cells[0], cells[2:]
    for row in rows:
        assert len(row) == len(header), f"table row with {len(row)} cells, header has {len(header)}: {row}"
    return header, rows


def _timings() -> dict:
    assert TIMINGS.is_file(), f"{TIMINGS.relative_to(ROOT)} is missing: run benchmarks/chapters.py"
    return json.loads(TIMINGS.read_text(encoding="utf-8"))


def test_timings_are_from_the_full_settings_of_every_notebook():
    report = _timings()
    assert report["quick"] is False, "the intro states full-mode times (the book build's); rerun without --quick"
    measured = {r["notebook"] for r in report["results"]}
    notebooks = {str(p.relative_to(ROOT)) for p in (ROOT / "book").rglob("*.ipynb")
                 if ".ipynb_checkpoints" not in p.parts}
    assert measured == notebooks, f"not measured: {sorted(notebooks - measured)}; gone: {sorted(measured - notebooks)}"


def test_chapter_table_states_the_measured_minutes():
    header, rows = _chapter_table()
    assert "CPU time" in header, f"the chapter table has no 'CPU time' column: {header}"
    col = header.index("CPU time")
    expected = {r["notebook"]: math.ceil(r["seconds"] / 60) for r in _timings()["results"]}
    stated = {}
    for row in rows:
        notebooks = [_page(t) + ".ipynb" for t in MD_LINK.findall(" ".join(row)) if t.endswith(".ipynb")]
        if not notebooks:
            assert "min" not in row[col], f"a row without a notebook states a time: {row}"
            continue
        assert len(notebooks) == 1, f"one notebook per row, so that its time is unambiguous: {row}"
        m = re.fullmatch(r"about (\d+) min", row[col])
        assert m, f"{notebooks[0]}: the time should read 'about N min', not {row[col]!r}"
        stated[notebooks[0]] = int(m.group(1))
    assert stated == expected, f"intro.md states {stated}, the benchmark gives (rounded up) {expected}"


def test_intro_names_the_machine_the_times_come_from():
    machine = _timings()["machine"]
    cpu = machine.split(",")[0]                            # "AMD EPYC" of "AMD EPYC, 2 cores, torch ..."
    cores = re.search(r"(\d+) cores?", machine)
    assert cores, f"no core count in the benchmark's machine field: {machine!r}"
    assert cpu in TEXT, f"intro.md should name the machine of the timings, {cpu!r}"
    assert f"{cores.group(1)}-core CPU" in TEXT, f"intro.md should say '{cores.group(1)}-core CPU'"


def test_every_page_of_the_toc_is_linked_from_the_intro():
    linked = {_page(t) for t in _links()}
    pages = set(toc_pages()) - {"book/intro"}
    assert pages - linked == set(), f"pages in _toc.yml that intro.md does not link: {sorted(pages - linked)}"


def test_intro_links_only_to_pages_that_are_built():
    links = _links()
    assert links, "intro.md has no internal links"
    pages = set(toc_pages())
    unbuilt = sorted({_page(t) for t in links} - pages)   # _page fails first on a file that does not exist
    assert not unbuilt, f"intro.md links to pages that exist but are not in _toc.yml (not built): {unbuilt}"


def test_first_screen_is_a_short_pitch_then_start_here_then_the_chapters():
    headings = re.findall(r"^(#{1,2}) (.+)$", PROSE, re.MULTILINE)
    assert [h for _, h in headings[:3]] == ["The Adam Course", "Start here", "Chapters"], headings[:3]
    pitch = TEXT.split("\n## Start here", 1)[0].splitlines()[1:]
    assert len([line for line in pitch if line.strip()]) <= 3, "the pitch above 'Start here' is over 3 lines"
    start = re.search(r"^## Start here\n(.*?)^## ", TEXT, re.MULTILINE | re.DOTALL).group(1)
    assert "{doc}`foundations/gradient-descent`" in start, "'Start here' should name the first chapter"
    assert "Colab" in start and "exercises.md" in start


@pytest.mark.parametrize("line", [line.split("#")[0].strip() for line in TEXT.splitlines()
                                  if line.startswith("adamcourse ")])
def test_quoted_commands_parse(line):
    argv = shlex.split(line.replace("[", "").replace("]", ""))[1:]
    parser = build_parser()
    for sub in parser._subparsers._group_actions[0].choices.values():
        sub.allow_abbrev = False                           # `--job` must not pass for `--jobs`
    try:
        parser.parse_args(argv)
    except SystemExit as e:
        pytest.fail(f"`{line}` in intro.md does not parse (exit {e.code})")


def test_quoted_option_defaults_match_the_cli():
    grade = build_parser()._subparsers._group_actions[0].choices["grade"]
    defaults = {a.option_strings[0]: a.default for a in grade._actions if a.option_strings}
    quoted = re.findall(r"`(--[a-z-]+)` \((?:[^)]*default )?(\d+)\)", " ".join(TEXT.split()))
    assert len(quoted) >= 4, f"expected the grading limits with their defaults, found {quoted}"
    for option, value in quoted:
        assert option in defaults, f"intro.md quotes {option}, which `adamcourse grade` does not have"
        assert defaults[option] == float(value), f"{option}: intro.md says {value}, the CLI's default is " \
                                                 f"{defaults[option]}"
