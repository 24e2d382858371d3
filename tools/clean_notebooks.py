"""Strip what Jupyter and Colab save into a notebook beyond its cells, so that chapters are committed clean.

A notebook saved from Colab or Jupyter carries outputs, execution counts, widget state and Colab's own
metadata; widget state in particular breaks rendering elsewhere (GitHub, nbviewer, the book build). Clean means:

- no code cell has outputs or an execution count;
- the notebook's metadata has none of ``NOTEBOOK_KEYS`` and its kernelspec is ``python3``;
- no cell's metadata has any of ``CELL_KEYS``.

Everything else (sources, cell ids, tags such as ``hide-input``, ``language_info``) is kept as it is::

    python tools/clean_notebooks.py            # clean book/**/*.ipynb in place (make clean-notebooks)
    python tools/clean_notebooks.py --check    # change nothing; exit 1, naming notebook and key, if any is unclean
    python tools/clean_notebooks.py a.ipynb    # only these notebooks

A clean notebook is not rewritten, so running it twice changes nothing. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK_KEYS = ("widgets", "colab", "accelerator", "gpuClass")  # widgets: application/vnd.jupyter.widget-state+json
CELL_KEYS = ("colab", "executionInfo", "outputId", "id")  # Colab's; "id" here is metadata.id, not the cell's id
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}


def _cell_name(index: int, cell: dict) -> str:
    source = cell.get("source", "")
    first = ("".join(source) if isinstance(source, list) else source).strip().splitlines()[:1] or [""]
    return f"cell {index} ({cell.get('cell_type')}, {first[0][:50]!r})"


def problems(nb: dict) -> list[str]:
    """What makes ``nb`` (a notebook's JSON) unclean, one ``"where: key"`` string each; empty when clean."""
    found = [f"metadata.{key}" for key in NOTEBOOK_KEYS if key in nb["metadata"]]
    name = nb["metadata"].get("kernelspec", {}).get("name")
    if name != "python3":
        found.append(f"metadata.kernelspec: kernel {name!r}, not 'python3'")
    for index, cell in enumerate(nb["cells"]):
        where, code = _cell_name(index, cell), cell["cell_type"] == "code"
        if code and cell.get("outputs"):
            found.append(f"{where}: outputs ({len(cell['outputs'])})")
        if code and cell.get("execution_count") is not None:
            found.append(f"{where}: execution_count={cell['execution_count']}")
        found += [f"{where}: metadata.{key}" for key in CELL_KEYS if key in cell.get("metadata", {})]
    return found


def clean(nb: dict) -> dict:
    """Remove from ``nb``, in place, everything that ``problems`` reports; return it."""
    for key in NOTEBOOK_KEYS:
        nb["metadata"].pop(key, None)
    if nb["metadata"].get("kernelspec", {}).get("name") != "python3":
        nb["metadata"]["kernelspec"] = dict(KERNELSPEC)
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        for key in CELL_KEYS:
            cell.get("metadata", {}).pop(key, None)
    return nb


def load(path: Path) -> dict:
    """A notebook's JSON; ``ValueError`` naming the file if it is not an nbformat 4 notebook."""
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{path}: cannot read it as a notebook: {error}") from None
    if not (isinstance(nb, dict) and nb.get("nbformat") == 4 and isinstance(nb.get("cells"), list)
            and isinstance(nb.get("metadata"), dict)):
        raise ValueError(f"{path}: not an nbformat 4 notebook (needs nbformat: 4, cells and metadata)")
    return nb


def book_notebooks() -> list[Path]:
    """Every ``book/**/*.ipynb``, checkpoints and build outputs excluded."""
    return sorted(p for p in (ROOT / "book").rglob("*.ipynb")
                  if not {".ipynb_checkpoints", "_build"} & set(p.relative_to(ROOT).parts))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebooks", nargs="*", type=Path, help="default: book/**/*.ipynb")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a notebook is unclean")
    args = parser.parse_args(argv)
    try:
        notebooks = {path: load(path) for path in args.notebooks or book_notebooks()}
    except ValueError as error:
        parser.error(str(error))
    unclean = 0
    for path, nb in notebooks.items():
        found = problems(nb)
        if not found:
            continue  # never rewritten: a clean notebook stays byte-identical
        unclean += 1
        shown = path.resolve().relative_to(ROOT) if path.resolve().is_relative_to(ROOT) else path
        print(f"{'unclean' if args.check else 'cleaned'}: {shown}\n  " + "\n  ".join(found))
        if not args.check:
            clean(nb)
            # The format the chapters are committed in (as tools/install_cell.py writes them): key order kept.
            path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    if args.check and unclean:
        print(f"{unclean} notebook(s) unclean: run `make clean-notebooks`")
    return 1 if args.check and unclean else 0


if __name__ == "__main__":
    sys.exit(main())
