"""Make student notebooks from instructor notebooks: ``adamcourse release SRC --out DIR``.

For every ``.ipynb`` under ``SRC`` (checkpoints and ``_build`` skipped), writes the same relative path under
``DIR`` with:

* code between a ``# BEGIN SOLUTION`` line and a ``# END SOLUTION`` line (markers included) replaced by a
  stub, so that "Run all" goes past an unanswered exercise:

  - an indented region (a function's body) by ``raise NotImplementedError("write your solution here")`` at
    the indentation of the ``BEGIN`` line; a region whose stub would run when the cell runs (in the body of a
    top-level ``if``, ``for``, ``with`` or ``class``) is a :class:`ReleaseError`;
  - a top-level region by one ``name = ...  # your answer here`` line per name it assigns (``...``, Python's
    Ellipsis, is the "not answered" marker that :func:`adamcourse.grading.check` recognises) and
    ``def f(args): raise NotImplementedError(...)`` per function it defines; its comments (part of the
    solution) go. Any other top-level statement in a region is a :class:`ReleaseError` naming the cell;
* code cells tagged ``solution`` removed;
* sphinx-exercise solutions removed: a ``{solution}`` directive block in a markdown cell, and everything from a
  ``{solution-start}`` directive to the end of its ``{solution-end}`` directive, including the cells between;
* every output and execution count cleared.

Check cells (``check("adam_step", adam_step)``) are ordinary code and stay.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat

STUB = 'raise NotImplementedError("write your solution here")'
ANSWER = "...  # your answer here"
_BEGIN = re.compile(r"^(\s*)#+\s*BEGIN SOLUTION\b")
_END = re.compile(r"^\s*#+\s*END SOLUTION\b")
_FENCE_OPEN = re.compile(r"^\s*(`{3,}|:{3,})\s*\{(solution|solution-start|solution-end)\}")


class ReleaseError(ValueError):
    """A notebook whose solution markers do not pair up, or whose solution cannot become a stub that runs."""


def strip_code(source: str, where: str = "cell") -> str:
    """Replace each ``# BEGIN SOLUTION`` ... ``# END SOLUTION`` region (markers included) with its stub."""
    out, region, stubs = [], None, []
    for number, line in enumerate(source.splitlines(keepends=True), 1):
        begin = _BEGIN.match(line)
        if begin:
            if region is not None:
                raise ReleaseError(f"{where}: nested '# BEGIN SOLUTION'")
            region, indent, at = [], begin.group(1), f"{where}, line {number}"
        elif _END.match(line):
            if region is None:
                raise ReleaseError(f"{where}: '# END SOLUTION' without '# BEGIN SOLUTION'")
            if indent:
                stubs.append((len(out) + 1, at))
                out.append(indent + STUB + "\n")
            else:
                out += answer_stub("".join(region), at)
            region = None
        elif region is not None:
            region.append(line)
        else:
            out.append(line)
    if region is not None:
        raise ReleaseError(f"{where}: '# BEGIN SOLUTION' without '# END SOLUTION'")
    result = "".join(out)
    if stubs:
        _stubs_inside_functions(result, stubs)
    return result if source.endswith("\n") else result.removesuffix("\n")


def answer_stub(code: str, where: str = "cell") -> list[str]:
    """The lines that replace a top-level solution region: ``name = ...  # your answer here`` for each name it
    assigns, a ``def`` with the stub body for each function it defines. Anything else is a ReleaseError."""
    try:
        tree = ast.parse(code)
    except SyntaxError as e:
        raise ReleaseError(f"{where}: the solution is not valid Python ({e.msg}, line {e.lineno} of the region)") \
            from None
    lines, seen = [], set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            if node.name not in seen:
                seen.add(node.name)
                prefix = "async def" if isinstance(node, ast.AsyncFunctionDef) else "def"
                lines += [f"{prefix} {node.name}({ast.unparse(node.args)}):\n", f"    {STUB}\n"]
            continue
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            targets = [node.target]
        else:
            targets = None
        names = _names(targets) if targets else None
        if names is None:
            raise ReleaseError(
                f"{where}: a top-level solution region may only assign names or define functions, but it holds "
                f"`{ast.unparse(node).splitlines()[0]}` (line {node.lineno} of the region); move that code out "
                "of the region or into a function, which the release turns into stubs")
        for name in names:
            if name not in seen:
                seen.add(name)
                lines.append(f"{name} = {ANSWER}\n")
    return lines or ["# your answer here\n"]  # a region of comments only


def _names(targets) -> list[str] | None:
    """The names bound by assignment targets (``x``, ``x, y``, ``*rest``), or None for ``a.b`` / ``a[i]``."""
    names = []
    for target in targets:
        if isinstance(target, ast.Name):
            names.append(target.id)
        elif isinstance(target, ast.Starred):
            inner = _names([target.value])
            if inner is None:
                return None
            names += inner
        elif isinstance(target, (ast.Tuple, ast.List)):
            inner = _names(target.elts)
            if inner is None:
                return None
            names += inner
        else:
            return None
    return names


def _stubs_inside_functions(code: str, stubs: list[tuple[int, str]]) -> None:
    """Raise a ReleaseError for a stub (line number, where) that would run when the cell runs, i.e. one that is
    not inside a function body (IPython magics are translated first)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        from IPython.core.inputtransformer2 import TransformerManager

        try:
            tree = ast.parse(TransformerManager().transform_cell(code))
        except SyntaxError as e:
            raise ReleaseError(f"{stubs[0][1]}: the released cell is not valid Python ({e.msg}, line "
                               f"{e.lineno})") from None
    in_function = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for inner in node.body:
                in_function.update(range(inner.lineno, inner.end_lineno + 1))
    for line, where in stubs:
        if line not in in_function:
            raise ReleaseError(f"{where}: this indented solution region is not inside a function, so its stub "
                               f"would raise NotImplementedError when the cell runs and stop 'Run all'; put the "
                               "region inside a function, or make it a top-level region that assigns the answer")


def _directive_end(lines: list[str], i: int, fence: str) -> int:
    """Index just past the fence closing the directive opened at ``lines[i]`` (``len(lines)`` if unclosed)."""
    char, n = fence[0], len(fence)
    for j in range(i + 1, len(lines)):
        s = lines[j].strip()
        if s and set(s) == {char} and len(s) >= n:
            return j + 1
    return len(lines)


def strip_markdown(source: str, inside: bool) -> tuple[str, bool]:
    """Drop solution directives from one markdown cell. ``inside``: a ``{solution-start}`` is still open from
    an earlier cell. Returns the kept text and whether a solution is still open at the end of this cell."""
    lines, kept, i = source.splitlines(keepends=True), [], 0
    while i < len(lines):
        m = _FENCE_OPEN.match(lines[i])
        if m:
            end = _directive_end(lines, i, m.group(1))
            kind = m.group(2)
            inside = kind == "solution-start" or (inside and kind != "solution-end")
            i = end
            continue
        if not inside:
            kept.append(lines[i])
        i += 1
    return re.sub(r"\n{3,}", "\n\n", "".join(kept)).strip("\n"), inside


def release_notebook(nb) -> object:
    """Return the student version of a notebook node (modified in place)."""
    cells, inside = [], False
    for k, cell in enumerate(nb.cells):
        where = f"cell {k}"
        if cell.cell_type == "markdown":
            text, inside = strip_markdown(cell.source, inside)
            if not text:
                continue
            cell.source = text
        elif inside:
            continue                      # code between {solution-start} and {solution-end}
        elif cell.cell_type == "code":
            tags = cell.get("metadata", {}).get("tags", [])
            if "solution" in tags:
                continue
            cell.source = strip_code(cell.source, where)
            cell.outputs = []
            cell.execution_count = None
        cells.append(cell)
    if inside:
        raise ReleaseError("a {solution-start} directive has no {solution-end}")
    nb.cells = cells
    return nb


def notebooks(src: Path) -> list[Path]:
    """The notebooks to release under ``src`` (a folder or one file), sorted."""
    if src.is_file():
        return [src]
    skip = {".ipynb_checkpoints", "_build", ".venv"}
    return sorted(p for p in src.rglob("*.ipynb") if not skip & set(p.relative_to(src).parts))


def release(src: str | Path, out: str | Path) -> list[Path]:
    """Write the student version of every notebook under ``src`` into ``out``; return the written paths."""
    src, out = Path(src), Path(out)
    if not src.exists():
        raise FileNotFoundError(f"{src} does not exist")
    if out.resolve() == (src if src.is_dir() else src.parent).resolve():
        raise ValueError(f"--out {out} would overwrite the instructor notebooks in {src}")
    written = []
    for path in notebooks(src):
        nb = nbformat.read(path, as_version=4)
        try:
            release_notebook(nb)
        except ReleaseError as e:
            raise ReleaseError(f"{path}: {e}") from None
        target = out / (path.name if src.is_file() else path.relative_to(src))
        target.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, target)
        written.append(target)
    return written
