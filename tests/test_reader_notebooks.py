"""The reader notebooks (tools/reader_notebooks.py): MyST turned into what Jupyter and Colab render.

The converter is tested on small pieces of MyST with a hand-made :class:`Book`; the notebooks of a real build
(numbers, links, the launch buttons, the download, the student versions, the published branch) are tested in
tests/test_book.py's build (see ``test_reader_notebooks_of_the_build`` there).
"""

from __future__ import annotations

import sys

import nbformat
import pytest

from book_build import ROOT

sys.path.insert(0, str(ROOT / "tools"))   # as Sphinx's local_extensions does
import reader_notebooks as rn  # noqa: E402


@pytest.fixture
def book():
    return rn.Book(
        labels={"prop-first": "Proposition 4.1", "ex-step": "Exercise 4.2", "sec-why": "Section 4.3"},
        equations={"eq-adam": "4.1", "eq-bias": "4.7"},
        titles={"book/foundations/adam": "4, Adam", "book/foundations/rmsprop": "3, RMSprop",
                "book/reference/notation": "Notation"},
        headings={"book/foundations/adam": ["4", "4.1", None]},
        citations={"kingma2015adam": rn.Citation("Kingma and Ba", "2015", "Diederik Kingma and Jimmy Ba. Adam."),
                   "duchi2011adagrad": rn.Citation("Duchi et al.", "2011", "John Duchi et al. Adagrad.")},
        chapters={"book/foundations/adam", "book/foundations/rmsprop"},
        repo="org/course", source_branch="main", notebooks_branch="notebooks")


def md(book, text, docname="book/foundations/adam"):
    converter = rn.Converter(book, docname)
    return converter.markdown(text), converter


def test_citations_are_author_year_and_collected(book):
    out, conv = md(book, "Adam {cite}`kingma2015adam` and {cite:t}`duchi2011adagrad`; "
                         "{cite}`kingma2015adam,duchi2011adagrad`.")
    assert out == ("Adam (Kingma and Ba, 2015) and Duchi et al. (2011); "
                   "(Kingma and Ba, 2015; Duchi et al., 2011).")
    assert conv.cited == ["kingma2015adam", "duchi2011adagrad"]


def test_references_take_the_builds_numbers(book):
    out, _ = md(book, "By {eq}`eq-bias` and {prf:ref}`prop-first`, see {ref}`sec-why` and {prf:ref}`this <ex-step>`.")
    assert out == "By (4.7) and Proposition 4.1, see Section 4.3 and this."
    out, _ = md(book, "- as {ref}`the section\n  below <sec-why>` says")
    assert out == "- as the section below says", "a role broken across lines"


def test_doc_and_relative_links_point_at_colab_or_github(book):
    out, _ = md(book, "As in {doc}`rmsprop`; symbols in [the notation](../reference/notation.md#symbols).")
    assert out == ("As in [Chapter 3, RMSprop](https://colab.research.google.com/github/org/course/blob/notebooks/"
                   "foundations/rmsprop.ipynb); symbols in [the notation](https://github.com/org/course/blob/main/"
                   "book/reference/notation.md#symbols).")


def test_labelled_equations_get_their_number_as_a_tag(book):
    out, _ = md(book, "$$\n\\theta_t = \\theta_{t-1} - \\eta g_t\n$$ (eq-adam)\n\n$$x = 1$$ (eq-bias)")
    assert out == "$$\n\\theta_t = \\theta_{t-1} - \\eta g_t\n\\tag{4.1}\n$$\n\n$$x = 1 \\tag{4.7} $$"


def test_directives_become_bold_titles_and_labels_go(book):
    text = ("(sec-why)=\n:::{prf:proposition} First step\n:label: prop-first\n\n$|\\Delta| = \\eta$.\n:::\n\n"
            ":::{prf:proof}\nBy (4.1).\n:::\n\n:::{admonition} Learning objectives\n:class: tip\n- one\n- two\n:::\n"
            "\n:::{exercise} One step\n:label: ex-step\n\nComplete it.\n:::")
    out, _ = md(book, text)
    assert out == ("**Proposition 4.1 (First step).** $|\\Delta| = \\eta$.\n\n*Proof.* By (4.1).\n$\\blacksquare$\n\n"
                   "**Learning objectives**\n\n- one\n- two\n\n**Exercise 4.2 (One step).** Complete it.")
    assert rn.check_plain(out) is None


def test_headings_get_their_section_numbers_in_order(book):
    out, _ = md(book, "# Adam\n\ntext\n\n## The rule\n\n```python\n# not a heading\n```\n\n### Unnumbered")
    assert out == "# 4 Adam\n\ntext\n\n## 4.1 The rule\n\n```python\n# not a heading\n```\n\n### Unnumbered"


@pytest.mark.parametrize("text, message", [
    ("{cite}`nobody2020`", "unknown citation 'nobody2020'"),
    ("{eq}`eq-missing`", "names no label"),
    ("{term}`Adam`", "the role {term} has no plain-Markdown form"),
    (":::{figure} x.png\n:::", "the directive {figure} has no plain-Markdown form"),
    ("$$\nx\n$$ (eq-missing)", "equation label 'eq-missing' not in this build"),
    ("{doc}`nowhere`", "names no page of this build"),
    (":::{note}\nnever closed", "unclosed fence"),
])
def test_what_it_cannot_convert_stops_the_build_by_name(book, text, message):
    with pytest.raises(rn.ConversionError, match=message.replace("{", r"\{").replace("}", r"\}").replace("(", r"\(")
                       .replace(")", r"\)")):
        md(book, text)


def test_check_plain_finds_each_kind_of_markup():
    for text in ["{cite}`x`", ":::{note}", "```{bibliography}", "$$ x $$ (eq-a)", "(label)="]:
        assert rn.check_plain(f"text\n{text}\n") is not None, text
    assert rn.check_plain("plain `code` and $x$ and\n```python\nx = 1\n```") is None


def test_a_notebook_gets_a_badge_folded_code_and_its_references(book):
    nb = nbformat.v4.new_notebook()
    nb.metadata["widgets"] = {"state": {}}
    nb.cells = [nbformat.v4.new_markdown_cell("# Adam\n\nAdam {cite}`kingma2015adam`."),
                nbformat.v4.new_code_cell("x = 1", metadata={"tags": ["hide-input"]}),
                nbformat.v4.new_code_cell("def f():\n    # BEGIN SOLUTION\n    return 1\n    # END SOLUTION",
                                          metadata={"tags": ["hide-input"]}),
                nbformat.v4.new_code_cell('check("f", f)'),
                nbformat.v4.new_markdown_cell("## References\n\n```{bibliography}\n:filter: docname in docnames\n```")]
    out = rn.convert(nb, book, "book/foundations/adam")
    badge, intro, plot, solution, _check, refs = out.cells
    assert "colab.research.google.com/github/org/course/blob/notebooks/foundations/adam.ipynb" in badge.source
    assert intro.source == "# 4 Adam\n\nAdam (Kingma and Ba, 2015)."
    assert plot.source == "# @title Show the code\nx = 1" and plot.metadata["cellView"] == "form"
    assert solution.source.startswith("# @title Solution") and solution.metadata["jupyter"]["source_hidden"]
    assert refs.source == "## 4.1 References\n\n- Diederik Kingma and Jimmy Ba. Adam."
    assert "widgets" not in out.metadata and nb.cells[1].source == "x = 1", "the input is left as it was"
    nbformat.validate(out)
    student = rn.convert(nb, book, "book/foundations/adam", student=True)
    assert "/blob/notebooks/student/foundations/adam.ipynb" in student.cells[0].source
    assert student.cells[3].source == nb.cells[2].source and "cellView" not in student.cells[3].metadata, \
        "the cell a student writes in is never folded"
    assert student.cells[2].metadata["cellView"] == "form"
