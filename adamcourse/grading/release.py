"""Make student notebooks from instructor notebooks: ``adamcourse release SRC --out DIR``.

For every ``.ipynb`` under ``SRC`` (checkpoints and ``_build`` skipped), writes the same relative path under
``DIR`` with:

* code between a ``# BEGIN SOLUTION`` line and a ``# END SOLUTION`` line replaced by
  ``raise NotImplementedError("write your solution here")`` at the indentation of the ``BEGIN`` line;
* code cells tagged ``solution`` removed;
* sphinx-exercise solutions removed: a ``{solution}`` directive block in a markdown cell, and everything from a
  ``{solution-start}`` directive to the end of its ``{solution-end}`` directive, including the cells between;
* every output and execution count cleared.

Check cells (``check("adam_step", adam_step)``) are ordinary code and stay.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

STUB = 'raise NotImplementedError("write your solution here")'
_BEGIN = re.compile(r"^(\s*)#+\s*BEGIN SOLUTION\b")
_END = re.compile(r"^\s*#+\s*END SOLUTION\b")
_FENCE_OPEN = re.compile(r"^\s*(`{3,}|:{3,})\s*\{(solution|solution-start|solution-end)\}")


class ReleaseError(ValueError):
    """A notebook whose solution markers do not pair up."""


def strip_code(source: str, where: str = "cell") -> str:
    """Replace each ``# BEGIN SOLUTION`` ... ``# END SOLUTION`` region (markers included) with the stub."""
    out, inside = [], False
    for line in source.splitlines(keepends=True):
        begin = _BEGIN.match(line)
        if begin:
            if inside:
                raise ReleaseError(f"{where}: nested '# BEGIN SOLUTION'")
            inside = True
            out.append(begin.group(1) + STUB + "\n")
        elif _END.match(line):
            if not inside:
                raise ReleaseError(f"{where}: '# END SOLUTION' without '# BEGIN SOLUTION'")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ReleaseError(f"{where}: '# BEGIN SOLUTION' without '# END SOLUTION'")
    result = "".join(out)
    return result if source.endswith("\n") else result.removesuffix("\n")


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
