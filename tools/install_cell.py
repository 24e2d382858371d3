"""Write the install snippet into every chapter's first code cell, from ``_config.yml``'s ``repository``.

Each chapter (``book/**/*.ipynb``) starts with a code cell that installs ``adamcourse`` when it is missing
(Colab, a fresh Jupyter). That snippet is generated here, between two marker lines, so that the repository
URL is written once (in ``_config.yml``) and every chapter installs the same way::

    python tools/install_cell.py           # rewrite the snippets (make install-cells)
    python tools/install_cell.py --check   # exit 1, naming the notebooks, if any snippet is out of date

Only the lines between the markers are replaced; the rest of the cell (imports, seeding) is left as it is.
A cell without the markers gets the snippet after its leading comment lines.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
BEGIN = "# >>> install adamcourse if it is missing (generated from _config.yml by tools/install_cell.py: do not edit)"
END = "# <<< install adamcourse"

# The snippet. ADAMCOURSE_INSTALL (any pip requirement: a git URL, a path, a wheel) replaces the default.
# The packages that Colab ships and our dependencies could touch are pinned to their installed versions, so
# pip keeps them or fails. A failure stops "Run all" here with one message (IPython shows the text that
# _render_traceback_ returns instead of a traceback).
TEMPLATE = '''\
try:
    import adamcourse  # noqa: F401
except ImportError:  # missing (Colab, a fresh Jupyter): install it, or stop here and say why
    def _install_adamcourse(default="{requirement}"):
        """Install the course library (from $ADAMCOURSE_INSTALL if set) without touching torch or numpy."""
        import importlib
        import os
        import re
        import site
        import subprocess
        import sys
        import tempfile
        from importlib import metadata

        class InstallError(Exception):
            def _render_traceback_(self):  # IPython: show this message, not a traceback
                return ["InstallError: " + str(self)]

        source = os.environ.get("ADAMCOURSE_INSTALL") or default
        keep = []
        for name in ("torch", "torchvision", "torchaudio", "numpy", "scipy", "pandas", "matplotlib",
                     "scikit-learn", "ipython", "ipykernel", "ipywidgets"):
            try:
                keep.append(f"{{name}}=={{metadata.version(name)}}")
            except metadata.PackageNotFoundError:
                pass
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as pins:
            pins.write("\\n".join(keep) + "\\n")
        print(f"Installing adamcourse from {{source}} ...", flush=True)
        pip = subprocess.run([sys.executable, "-m", "pip", "install", "--constraint", pins.name, source],
                             capture_output=True, text=True)
        os.remove(pins.name)
        if site.ENABLE_USER_SITE and os.path.isdir(site.getusersitepackages()):
            site.addsitedir(site.getusersitepackages())  # pip's fallback when site-packages is read-only
        importlib.invalidate_caches()
        try:
            if pip.returncode == 0:
                importlib.import_module("adamcourse")
                return
            problem = "pip failed; its last lines:"
        except ImportError as error:
            problem = f"pip ran, but `import adamcourse` fails: {{error}}. pip's last lines:"
        said = re.sub(r"\\x1b\\[[0-9;]*m", "", pip.stdout + pip.stderr).splitlines()  # no colour codes
        tail = "\\n".join("    " + line for line in [line for line in said if line.strip()][-6:])
        raise InstallError(
            f"could not install adamcourse from\\n    {{source}}\\n{{problem}}\\n{{tail}}\\n"
            "What to do: point ADAMCOURSE_INSTALL at a source that works, then run this cell again, e.g.\\n"
            "    %env ADAMCOURSE_INSTALL=/path/to/adam-course      (a local checkout)\\n"
            "    %env ADAMCOURSE_INSTALL=git+https://github.com/<you>/adam-course   (a fork)\\n"
            "or run `pip install -e .` in a checkout of the course and restart the kernel.") from None

    _install_adamcourse()
    del _install_adamcourse
'''


def requirement(config: Path = ROOT / "_config.yml") -> str:
    """The default pip requirement: the repository (and branch) that ``_config.yml`` names."""
    repository = yaml.safe_load(config.read_text(encoding="utf-8"))["repository"]
    return f"adamcourse @ git+{repository['url']}@{repository.get('branch', 'main')}"


def snippet(config: Path = ROOT / "_config.yml") -> str:
    """The generated install snippet, marker lines included (ends with a newline)."""
    return f"{BEGIN}\n{TEMPLATE.format(requirement=requirement(config))}{END}\n"


def with_snippet(source: str, block: str) -> str:
    """A first cell's source with its install snippet replaced by ``block`` (inserted after the cell's leading
    comment lines when it has none)."""
    lines = source.splitlines(keepends=True)
    starts = [i for i, line in enumerate(lines) if line.rstrip("\n") == BEGIN]
    ends = [i for i, line in enumerate(lines) if line.rstrip("\n") == END]
    if starts and ends and starts[0] < ends[0]:
        begin, end = starts[0], ends[0] + 1
    else:
        begin = end = next((i for i, line in enumerate(lines) if not line.startswith("#")), len(lines))
    if end == len(lines) and lines and not lines[-1].endswith("\n"):
        block = block.rstrip("\n")  # the cell ended with the snippet: keep its last line unterminated
    return "".join(lines[:begin]) + block + "".join(lines[end:])


def update(notebook: Path, block: str, write: bool) -> bool:
    """Bring ``notebook``'s first code cell up to date (or, with ``write=False``, only look); True if it was not."""
    text = notebook.read_text(encoding="utf-8")
    nb = json.loads(text)
    cell = next(cell for cell in nb["cells"] if cell["cell_type"] == "code")
    source = "".join(cell["source"])
    new = with_snippet(source, block)
    if new == source:
        return False
    if write:
        cell["source"] = new.splitlines(keepends=True)
        notebook.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a notebook is out of date")
    args = parser.parse_args(argv)
    block = snippet()
    stale = [nb for nb in sorted((ROOT / "book").rglob("*.ipynb"))
             if ".ipynb_checkpoints" not in nb.parts and update(nb, block, write=not args.check)]
    for nb in stale:
        print(f"{'out of date' if args.check else 'updated'}: {nb.relative_to(ROOT)}")
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
