"""Reader notebooks: every chapter as a notebook that Jupyter and Colab render, built with the book.

The chapters are MyST notebooks: Jupyter and Colab would show ``{cite}`...```, ``:::{admonition}`` and
``$$ ... $$ (label)`` as raw text. This Sphinx extension (``_config.yml``: ``sphinx.local_extensions``) runs
when the HTML is written and, for every chapter (a ``.ipynb`` page of ``_toc.yml`` under ``book/``), writes

* ``_build/notebooks/<path under book/>.ipynb``: the reader notebook, plain Markdown throughout;
* ``_build/notebooks/student/<path under book/>.ipynb``: the same after ``adamcourse release`` (solutions
  removed), for the exercises page;
* the reader notebook again in place of the chapter's ``_sources`` copy, so that the page's download
  button gives it, and both notebooks under ``_build/html/_notebooks/`` for the exercises page's links.

The Markdown turns into what Jupyter and Colab render, with every number taken from this build:

* ``{cite}`` / ``{cite:p}`` -> "(Kingma and Ba, 2015)", ``{cite:t}`` -> "Kingma and Ba (2015)"; the
  ``{bibliography}`` directive -> the notebook's references, formatted by pybtex;
* ``{eq}`` -> "(4.3)", and a labelled display equation gets ``\\tag{4.3}``;
* ``{prf:ref}``, ``{ref}`` -> "Proposition 4.1", "Exercise 4.2", "Section 4.3" (or the text given);
  ``{doc}`` and relative links -> the chapter's reader notebook on Colab, other pages on GitHub;
* headings get their section numbers; ``(label)=`` targets and directive options are dropped;
* admonitions, propositions, proofs, algorithms and exercises -> a bold title and their body;
* code cells tagged ``hide-input`` (solutions, plotting code) are folded: a Colab form (``# @title``,
  ``cellView: form``) that JupyterLab also shows collapsed (``jupyter.source_hidden``).

A construct this module does not know stops the build with its name (:class:`ConversionError`): a reader
notebook never shows MyST markup. The Colab links point at the branch named by ``reader_notebooks_branch``
(``_config.yml``), which ``tools/publish_notebooks.py`` fills with ``_build/notebooks/``; the launch buttons
of the chapter pages are pointed there too.
"""

from __future__ import annotations

import copy
import json
import posixpath
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

BOOK = "book/"                       # the chapters' folder, relative to the build root (the repository root)
COLAB = "https://colab.research.google.com/github"


_CHECK = re.compile(r"""^check\(["'](\w+)["']""", re.M)   # a check cell: check("adam_step", adam_step)


class ConversionError(ValueError):
    """MyST markup that the converter does not know how to write as plain Markdown."""


# ----------------------------------------------------------------------------------------------- the context


@dataclass
class Citation:
    authors: str                     # "Kingma and Ba", "Duchi et al."
    year: str
    reference: str                   # the formatted entry, Markdown


@dataclass
class Book:
    """What a conversion needs from the build: numbers, titles, citations and where things are published."""

    labels: dict[str, str] = field(default_factory=dict)        # label -> "Proposition 4.1", "Section 4.3"
    equations: dict[str, str] = field(default_factory=dict)     # label -> "4.3"
    titles: dict[str, str] = field(default_factory=dict)        # docname -> "4. Adam" (number if any)
    headings: dict[str, list] = field(default_factory=dict)     # docname -> section numbers in order
    citations: dict[str, Citation] = field(default_factory=dict)
    chapters: set[str] = field(default_factory=set)              # docnames of the chapters (.ipynb pages)
    repo: str = ""                   # "org/name"
    source_branch: str = "main"
    notebooks_branch: str = "notebooks"

    def colab(self, docname: str, student: bool = False) -> str:
        """The Colab URL of a chapter's reader (or student) notebook on the published branch."""
        return f"{COLAB}/{self.repo}/blob/{self.notebooks_branch}/{published_path(docname, student)}"

    def github(self, path: str) -> str:
        """A source file of the book on GitHub."""
        return f"https://github.com/{self.repo}/blob/{self.source_branch}/{path}"


def published_path(docname: str, student: bool = False) -> str:
    """Where a chapter's notebook lies in ``_build/notebooks/`` and on the published branch."""
    if not docname.startswith(BOOK):
        raise ConversionError(f"{docname} is not under {BOOK}")
    path = docname[len(BOOK):] + ".ipynb"
    return f"student/{path}" if student else path


# ------------------------------------------------------------------------------------------------ Markdown


_ROLE = re.compile(r"\{(?P<role>[a-z]+(?::[a-z]+)?)\}`(?P<body>[^`]*)`")
_ROLE_ACROSS_LINES = re.compile(r"\{[a-z]+(?::[a-z]+)?\}`[^`\n]*\n[^`]*`")   # joined onto one line first
_EXPLICIT = re.compile(r"^(?P<text>.*?)\s*<(?P<target>[^<>]+)>$", re.S)
_FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>:{3,}|`{3,})(?P<rest>.*)$")
_DIRECTIVE = re.compile(r"^\{(?P<name>[a-z:-]+)\}\s*(?P<arg>.*)$")
_OPTION = re.compile(r"^\s*:(?P<key>[a-z-]+):\s*(?P<value>.*)$")
_TARGET = re.compile(r"^\((?P<label>[^)\s]+)\)=\s*$")
_LABELLED_MATH_END = re.compile(r"^\s*\$\$\s*\((?P<label>[^)\s]+)\)\s*$")
_HEADING = re.compile(r"^(?P<hashes>#{1,6})\s+(?P<title>.*)$")
_LINK = re.compile(r"\]\((?P<target>(?!https?:|mailto:|#)[^)\s]+?\.(?:md|ipynb))(?P<anchor>#[^)\s]*)?\)")

#: Directives written as a bold title and their body; the value is the title's kind (None: the title is the
#: argument, as for admonitions).
_BLOCKS = {
    "admonition": None, "note": "Note", "tip": "Tip", "important": "Important", "warning": "Warning",
    "seealso": "See also", "prf:proposition": "Proposition", "prf:theorem": "Theorem", "prf:lemma": "Lemma",
    "prf:corollary": "Corollary", "prf:definition": "Definition", "prf:algorithm": "Algorithm",
    "prf:example": "Example", "prf:remark": "Remark", "prf:proof": "Proof", "exercise": "Exercise",
    "solution": "Solution",
}


class Converter:
    """Turns one chapter's Markdown into plain Markdown; remembers which works it cited."""

    def __init__(self, book: Book, docname: str):
        self.book, self.docname = book, docname
        self.cited: list[str] = []
        self._headings = iter(book.headings.get(docname, []))

    # roles ---------------------------------------------------------------------------------------------

    def _cite(self, keys: str, textual: bool) -> str:
        parts = []
        for key in (k.strip() for k in keys.split(",")):
            if key not in self.book.citations:
                raise ConversionError(f"{self.docname}: unknown citation {key!r}")
            if key not in self.cited:
                self.cited.append(key)
            c = self.book.citations[key]
            parts.append(f"{c.authors} ({c.year})" if textual else f"{c.authors}, {c.year}")
        return "; ".join(parts) if textual else "(" + "; ".join(parts) + ")"

    def _label(self, body: str, table: dict[str, str], role: str) -> str:
        explicit = _EXPLICIT.match(body)
        text, target = (explicit.group("text"), explicit.group("target")) if explicit else (None, body)
        if target not in table:
            raise ConversionError(f"{self.docname}: {{{role}}}`{body}` names no label of this build")
        return text or table[target]

    def _doc(self, body: str) -> str:
        explicit = _EXPLICIT.match(body)
        text, target = (explicit.group("text"), explicit.group("target")) if explicit else (None, body)
        docname = posixpath.normpath(posixpath.join(posixpath.dirname(self.docname), target)) \
            if not target.startswith("/") else target.lstrip("/")
        docname = re.sub(r"\.(md|ipynb)$", "", docname)
        if docname not in self.book.titles:
            raise ConversionError(f"{self.docname}: {{doc}}`{body}` names no page of this build")
        return self._page_link(docname, text)

    def _page_link(self, docname: str, text: str | None = None, anchor: str = "") -> str:
        if docname in self.book.chapters:
            title = self.book.titles[docname]
            return f"[{text or 'Chapter ' + title}]({self.book.colab(docname)})"
        return f"[{text or self.book.titles[docname]}]({self.book.github(docname + '.md')}{anchor})"

    def _role(self, m: re.Match) -> str:
        role, body = m.group("role"), m.group("body")
        if role in ("cite", "cite:p", "cite:ps"):
            return self._cite(body, textual=False)
        if role in ("cite:t", "cite:ts"):
            return self._cite(body, textual=True)
        if role == "eq":
            return "(" + self._label(body, self.book.equations, role) + ")"
        if role in ("prf:ref", "ref", "numref"):
            return self._label(body, self.book.labels, role)
        if role == "doc":
            return self._doc(body)
        raise ConversionError(f"{self.docname}: the role {{{role}}} has no plain-Markdown form yet")

    def _relative_link(self, m: re.Match) -> str:
        target = posixpath.normpath(posixpath.join(posixpath.dirname(self.docname), m.group("target")))
        docname = re.sub(r"\.(md|ipynb)$", "", target)
        if docname not in self.book.titles:
            raise ConversionError(f"{self.docname}: the link {m.group(0)} names no page of this build")
        link = self._page_link(docname, "x", m.group("anchor") or "")
        return "](" + link.split("](", 1)[1]

    def inline(self, text: str) -> str:
        """Roles and relative links in one line of text."""
        return _LINK.sub(self._relative_link, _ROLE.sub(self._role, text))

    # blocks --------------------------------------------------------------------------------------------

    def _equation(self, label: str) -> str:
        if label not in self.book.equations:
            raise ConversionError(f"{self.docname}: equation label {label!r} not in this build")
        return self.book.equations[label]

    def _title(self, name: str, arg: str, options: dict[str, str]) -> str:
        kind = _BLOCKS[name]
        label = options.get("label")
        if name == "admonition":
            return f"**{self.inline(arg)}**" if arg else ""
        if label and label in self.book.labels and name != "prf:proof":
            kind = self.book.labels[label]        # "Proposition 4.1"
        if name == "prf:proof":
            return "*Proof.*"
        return f"**{kind}" + (f" ({self.inline(arg)})" if arg else "") + ".**"

    def markdown(self, source: str) -> str:
        """One Markdown cell as plain Markdown."""
        source = _ROLE_ACROSS_LINES.sub(lambda m: re.sub(r"\n\s*", " ", m.group(0)), source)
        lines, out = source.split("\n"), []
        self._blocks(lines, 0, len(lines), out)
        text = re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip("\n")
        leftover = check_plain(text)
        if leftover:
            raise ConversionError(f"{self.docname}: left {leftover!r} in\n{text[:400]}")
        return text

    def _blocks(self, lines: list[str], i: int, end: int, out: list[str]) -> None:
        in_math = False
        while i < end:
            line = lines[i]
            fence = _FENCE.match(line)
            if in_math:
                labelled = _LABELLED_MATH_END.match(line)
                if labelled or line.strip() == "$$":
                    if labelled:
                        out.append(f"\\tag{{{self._equation(labelled.group('label'))}}}")
                    out.append("$$")
                    in_math = False
                else:
                    out.append(line)
                i += 1
                continue
            one_line = re.match(r"^(?P<head>\s*\$\$.+?)\$\$\s*(?:\((?P<label>[^)\s]+)\))?\s*$", line)
            if one_line and line.strip() != "$$":
                label = one_line.group("label")
                out.append(one_line.group("head") + (f" \\tag{{{self._equation(label)}}} " if label else "") + "$$")
                i += 1
                continue
            if line.strip().startswith("$$"):
                out.append(line)
                in_math = True
                i += 1
                continue
            if fence:
                close = self._close(lines, i, fence.group("fence"))
                directive = _DIRECTIVE.match(fence.group("rest").strip())
                if not directive:      # a plain code block: kept as it is
                    out.extend(lines[i:close + 1])
                    i = close + 1
                    continue
                self._directive(directive.group("name"), directive.group("arg").strip(), lines, i + 1, close,
                                out)
                i = close + 1
                continue
            if _TARGET.match(line):
                i += 1
                continue
            heading = _HEADING.match(line)
            if heading:
                number = next(self._headings, None)
                title = self.inline(heading.group("title"))
                out.append(f"{heading.group('hashes')} {number + ' ' if number else ''}{title}")
                i += 1
                continue
            out.append(self.inline(line))
            i += 1

    @staticmethod
    def _close(lines: list[str], i: int, fence: str) -> int:
        """The index of the line closing the fence opened at ``lines[i]``: the first bare run of the same
        character at least as long (as markdown-it reads it; an outer directive uses a longer fence)."""
        for j in range(i + 1, len(lines)):
            m = _FENCE.match(lines[j])
            if m and m.group("fence")[0] == fence[0] and len(m.group("fence")) >= len(fence) \
                    and not m.group("rest").strip():
                return j
        raise ConversionError(f"unclosed fence {lines[i]!r}")

    def _directive(self, name: str, arg: str, lines: list[str], start: int, end: int, out: list[str]) -> None:
        options, i = {}, start
        while i < end and _OPTION.match(lines[i]):
            m = _OPTION.match(lines[i])
            options[m.group("key")] = m.group("value").strip()
            i += 1
        if name == "bibliography":
            out.append("<!-- references: written at the end of the notebook -->")
            return
        if name not in _BLOCKS:
            raise ConversionError(f"{self.docname}: the directive {{{name}}} has no plain-Markdown form yet")
        out.append("")
        title = self._title(name, arg, options)
        body: list[str] = []
        self._blocks(lines, i, end, body)
        while body and not body[0].strip():
            body.pop(0)
        if name == "prf:proof":
            body.append("$\\blacksquare$" if not body or body[-1].strip() else "")
        if title and body and body[0].strip() and not _FENCE.match(body[0]) and not body[0].lstrip().startswith(
                ("-", "*", "1.", "$$", "|", ">")):
            out.append(f"{title} {body[0]}")
            out.extend(body[1:])
        else:
            out.extend([title, ""] if title else [])
            out.extend(body)
        out.append("")


def check_plain(text: str) -> str | None:
    """The first piece of MyST markup left in ``text``, or None."""
    for pattern in (r"\{[a-z]+(?::[a-z]+)?\}`", r"^\s*:::", r"^\s*`{3,}\s*\{", r"\$\$\s*\([^)]*\)\s*$",
                    r"^\([^)\s]+\)=\s*$"):
        m = re.search(pattern, text, re.M)
        if m:
            return m.group(0)
    return None


# ------------------------------------------------------------------------------------------------ notebooks


def _references(book: Book, keys: list[str]) -> str:
    entries = sorted((book.citations[k] for k in keys), key=lambda c: (c.authors, c.year))
    return "\n".join(f"- {c.reference}" for c in entries)


def convert(nb, book: Book, docname: str, *, student: bool = False):
    """The reader notebook of chapter ``docname`` (a copy; ``nb`` is left as it is)."""
    nb = copy.deepcopy(nb)
    converter = Converter(book, docname)
    code = [k for k, c in enumerate(nb.cells) if c.cell_type == "code"]
    answers = {k for k, after in zip(code, code[1:], strict=False) if _CHECK.search(nb.cells[after].source)}
    cells = []
    for k, cell in enumerate(nb.cells):
        cell = copy.deepcopy(cell)
        if cell.cell_type == "markdown":
            cell.source = converter.markdown(cell.source)
            if not cell.source.strip():
                continue
        elif cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
            folded = "hide-input" in cell.metadata.get("tags", [])
            if k in answers and student:
                folded = False                      # the cell the student writes in
            if folded:
                title = "Solution (double-click to show)" if k in answers else "Show the code"
                cell.source = f"# @title {title}\n" + cell.source
                cell.metadata["cellView"] = "form"
                cell.metadata.setdefault("jupyter", {})["source_hidden"] = True
        cells.append(cell)
    refs = _references(book, converter.cited)
    for cell in cells:
        if cell.cell_type == "markdown" and "<!-- references: written at the end of the notebook -->" in cell.source:
            cell.source = cell.source.replace("<!-- references: written at the end of the notebook -->", refs)
    kind = "student notebook (solutions removed)" if student else "notebook"
    badge = (f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
             f"({book.colab(docname, student)})\n\n"
             f"*The Adam Course*, chapter {book.titles[docname]}: the {kind} generated from the book's source "
             f"([{docname}.ipynb]({book.github(docname + '.ipynb')})). Run the cells from the top; the first "
             "code cell installs the course library when it is missing.")
    cells.insert(0, nbformat.v4.new_markdown_cell(badge))
    nb.cells = cells
    nb.metadata.pop("widgets", None)
    nb.metadata["colab"] = {"provenance": [], "toc_visible": True}
    nbformat.validate(nb)
    return nb


# ------------------------------------------------------------------------------------------- the Sphinx side


def _number(numbers) -> str:
    return ".".join(map(str, numbers))


def _published(app) -> Book:
    """A :class:`Book` that knows only where things are published (``repository`` in ``_config.yml``)."""
    options = app.config.html_theme_options
    return Book(repo="/".join(options.get("repository_url", "").rstrip("/").split("/")[-2:]),
                source_branch=options.get("repository_branch", "main") or "main",
                notebooks_branch=app.config.reader_notebooks_branch)


def book_from_env(app) -> Book:
    """Numbers, titles and citations as this build assigned them."""
    from docutils import nodes

    env = app.env
    book = _published(app)
    section_of: dict[tuple[str, str], str] = {}               # (docname, any id of a section) -> "4.3"
    for docname in sorted(env.found_docs):
        secnums = env.toc_secnumbers.get(docname, {})
        doctree = env.get_doctree(docname)
        headings = []
        # the document's own sections (sphinx-proof and sphinx-exercise put section nodes inside their boxes)
        sections = [s for s in doctree.findall(nodes.section) if isinstance(s.parent, (nodes.document, nodes.section))]
        for k, section in enumerate(sections):
            number = secnums.get("" if k == 0 else "#" + section["ids"][0])
            headings.append(_number(number) if number else None)
            for node_id in section["ids"]:
                if number:
                    section_of[docname, node_id] = _number(number)
        book.headings[docname] = headings
        top = secnums.get("")
        book.titles[docname] = (f"{_number(top)}, " if top else "") + env.titles[docname].astext()
        if str(env.doc2path(docname)).endswith(".ipynb") and docname.startswith(BOOK):
            book.chapters.add(docname)
    fignumbers = env.toc_fignumbers
    for label, (docname, _eqno) in env.get_domain("math").equations.items():
        number = fignumbers.get(docname, {}).get("displaymath", {}).get(f"equation-{label}")
        book.equations[label] = _number(number) if number else str(_eqno)
    for label, info in getattr(env, "proof_list", {}).items():
        number = fignumbers.get(info["docname"], {}).get(info["countertype"], {}).get(label)
        kind = info["realtype"].title()
        book.labels[label] = f"{kind} {_number(number)}" if number and not info["nonumber"] else kind
    for label, info in getattr(env, "sphinx_exercise_registry", {}).items():
        number = None
        for numbers in fignumbers.get(info["docname"], {}).values():
            number = numbers.get(label, number)
        book.labels[label] = f"{info['type'].title()} {_number(number)}" if number else info["type"].title()
    for label, (docname, node_id, *_rest) in env.get_domain("std").anonlabels.items():
        if label not in book.labels and (docname, node_id) in section_of:
            book.labels[label] = f"Section {section_of[docname, node_id]}"
    book.citations = _citations(app)
    return book


def _citations(app) -> dict[str, Citation]:
    """Every entry of the bibliography files: author-year text and the formatted reference (pybtex)."""
    from pybtex.database import parse_file
    from pybtex.plugin import find_plugin
    from pybtex.richtext import Text

    style = find_plugin("pybtex.style.formatting", "plain")()
    citations = {}
    for name in app.config.bibtex_bibfiles:
        data = parse_file(str(Path(app.srcdir) / name))
        formatted = {e.key: e.text.render_as("markdown").replace("\n", " ")
                     for e in style.format_entries(data.entries.values())}
        for key, entry in data.entries.items():
            people = entry.persons.get("author") or entry.persons.get("editor") or []
            last = [Text.from_latex(" ".join(p.last_names)).render_as("text") for p in people]
            authors = (last[0] if len(last) == 1 else " and ".join(last) if len(last) == 2
                       else f"{last[0]} et al." if last else entry.fields.get("title", key))
            citations[key] = Citation(authors, entry.fields.get("year", "n.d."), formatted[key])
    return citations


def write_notebooks(app, exception) -> None:
    """``build-finished``: the reader and student notebooks of every chapter (see the module's docstring)."""
    if exception is not None or app.builder.format != "html":
        return
    from adamcourse.grading.release import release_notebook

    book = book_from_env(app)
    out = Path(app.outdir).parent / "notebooks"
    shutil.rmtree(out, ignore_errors=True)
    for docname in sorted(book.chapters):
        source = nbformat.read(app.env.doc2path(docname), as_version=4)
        for student in (False, True):
            nb = source if not student else release_notebook(copy.deepcopy(source))
            reader = convert(nb, book, docname, student=student)
            for target in (out / published_path(docname, student),
                           Path(app.outdir) / "_notebooks" / published_path(docname, student)):
                target.parent.mkdir(parents=True, exist_ok=True)
                nbformat.write(reader, target)
            if not student:        # the page's download button
                download = Path(app.outdir) / "_sources" / f"{docname}.ipynb"
                if download.parent.is_dir():
                    nbformat.write(reader, download)
    _write_branch_files(out, book)
    (out / "book.json").write_text(json.dumps(
        {"repo": book.repo, "branch": book.notebooks_branch,
         "chapters": {d: {"title": book.titles[d], "reader": published_path(d),
                          "student": published_path(d, True)} for d in sorted(book.chapters)}},
        indent=1) + "\n")


def _write_branch_files(out: Path, book: Book) -> None:
    """The published branch's README (a Colab link per notebook) and Binder's requirements.txt."""
    from install_cell import requirement  # tools/, on the path as a local extension's folder

    rows = [f"| {book.titles[d]} | [reader]({book.colab(d)}) | [student]({book.colab(d, True)}) |"
            for d in sorted(book.chapters)]
    (out / "README.md").write_text(
        "# The Adam Course: notebooks for Colab and Jupyter\n\n"
        "Generated by the book's build from the chapters of the `" + book.source_branch + "` branch "
        "(`make notebooks`) and published by `tools/publish_notebooks.py`: do not edit here. The reader "
        "notebooks are the chapters with plain Markdown; the student notebooks have the exercises' solutions "
        "removed (`adamcourse release`).\n\n| Chapter | Open in Colab | |\n|---|---|---|\n"
        + "\n".join(rows) + "\n")
    (out / "requirements.txt").write_text(requirement() + "\n")


def point_launch_buttons(app, pagename, templatename, context, doctree) -> None:
    """``html-page-context``, after the theme's: launch buttons open the reader notebook on its branch."""
    docname = pagename
    if not docname.startswith(BOOK) or not str(app.env.doc2path(docname)).endswith(".ipynb"):
        return
    options = app.config.html_theme_options
    branch = options.get("repository_branch", "main") or "main"
    old = f"{branch}/{docname}.ipynb"
    new = f"{app.config.reader_notebooks_branch}/{published_path(docname)}"

    def visit(buttons):
        for button in buttons:
            if isinstance(button.get("buttons"), list):
                visit(button["buttons"])
            url = button.get("url", "")
            if "colab" in url or "binder" in url.lower():
                button["url"] = url.replace(old, new).replace(
                    f"/{branch}?urlpath=", f"/{app.config.reader_notebooks_branch}?urlpath=").replace(
                    f"tree/{docname}.ipynb", f"tree/{published_path(docname)}")

    visit(context.get("header_buttons", []))


def _toc_files(entry) -> list[str]:
    """Every ``file`` named in a parsed ``_toc.yml``, in order."""
    if isinstance(entry, dict):
        return ([entry["file"]] if "file" in entry else []) + [f for v in entry.values() for f in _toc_files(v)]
    return [f for item in entry for f in _toc_files(item)] if isinstance(entry, list) else []


def student_table(app, docname: str) -> str:
    """The exercises page's table, in MyST: per chapter with exercises, its check names, Colab and download."""
    import yaml

    root = Path(app.srcdir)
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    book = _published(app)
    up = "../" * docname.count("/")
    rows = []
    for chapter in _toc_files(toc):
        path = root / f"{chapter}.ipynb"
        if not path.is_file() or not chapter.startswith(BOOK):
            continue
        nb = nbformat.read(path, as_version=4)
        names = [n for c in nb.cells if c.cell_type == "code" for n in _CHECK.findall(c.source)]
        if not names:
            continue
        relative = posixpath.relpath(chapter, posixpath.dirname(docname))
        download = f"{up}_notebooks/{published_path(chapter, True)}"
        rows.append(f"| {{doc}}`{relative}` | {', '.join(f'`{n}`' for n in names)} | "
                    f"[Colab]({book.colab(chapter, True)}), "
                    f'<a href="{download}" download>{posixpath.basename(download)}</a> |')
    if not rows:
        raise ConversionError("no chapter has a check cell")
    return "| Chapter | Exercises | Open in |\n|---|---|---|\n" + "\n".join(rows)


def _directive():
    from docutils import nodes
    from docutils.statemachine import StringList
    from sphinx.util.docutils import SphinxDirective

    class StudentNotebooks(SphinxDirective):
        """``{student-notebooks}``: the table of student notebooks (see :func:`student_table`)."""

        def run(self):
            self.env.note_dependency(str(Path(self.env.srcdir) / "_toc.yml"))
            container = nodes.container(classes=["student-notebooks"])
            self.state.nested_parse(
                StringList(
                    student_table(self.env.app, self.env.docname).splitlines(), source=self.env.docname),
                self.content_offset, container)
            return [container]

    return StudentNotebooks


def setup(app):
    app.add_config_value("reader_notebooks_branch", "notebooks", "html")
    app.add_directive("student-notebooks", _directive())
    app.connect("build-finished", write_notebooks)
    app.connect("html-page-context", point_launch_buttons, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
