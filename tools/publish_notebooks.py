"""Publish the reader and student notebooks: commit ``_build/notebooks/`` to the branch Colab opens them from.

Colab opens a notebook from a GitHub repository (``colab.research.google.com/github/ORG/REPO/blob/BRANCH/
PATH``). The book's launch buttons, the notebooks' own Colab badges and the exercises page point at
``_config.yml``'s ``sphinx.config.reader_notebooks_branch`` (``notebooks``) of ``repository.url``. This script
makes that branch's next commit from the folder ``make notebooks`` (or ``make book``) wrote, with git's
plumbing (no checkout; the working tree and the current branch are left alone)::

    make notebooks
    python tools/publish_notebooks.py                  # commit to the local branch `notebooks`
    python tools/publish_notebooks.py --push origin    # ... and push it

The branch holds exactly the folder: each commit replaces the whole tree, with the previous commit as parent.
Nothing is committed when the folder has not changed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def configured_branch(config: Path = ROOT / "_config.yml") -> str:
    """``sphinx.config.reader_notebooks_branch`` of ``_config.yml``."""
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    return data["sphinx"]["config"]["reader_notebooks_branch"]


def _git(*args: str, env: dict | None = None, repo: Path = ROOT) -> str:
    result = subprocess.run(["git", *args], cwd=repo, env=env, capture_output=True, text=True)
    if result.returncode:
        raise RuntimeError(f"git {' '.join(args)} failed: {result.stderr.strip()}")
    return result.stdout.strip()


def publish(folder: Path, branch: str, repo: Path = ROOT, message: str | None = None) -> str | None:
    """Commit ``folder``'s files as the whole tree of ``branch`` in ``repo``; return the new commit, or None
    when the tree is unchanged."""
    if not (folder / "book.json").is_file():
        raise FileNotFoundError(f"{folder} holds no generated notebooks (no book.json): run `make notebooks`")
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "GIT_INDEX_FILE": str(Path(tmp) / "index")}
        _git("--work-tree", str(folder.resolve()), "add", "--all", "--force", ".", env=env, repo=repo)
        tree = _git("write-tree", env=env, repo=repo)
    parent = subprocess.run(["git", "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"], cwd=repo,
                            capture_output=True, text=True).stdout.strip()
    if parent and _git("rev-parse", f"{parent}^{{tree}}", repo=repo) == tree:
        return None
    source = _git("rev-parse", "--short", "HEAD", repo=repo)
    message = message or f"Reader and student notebooks built from {source}"
    commit = _git("commit-tree", tree, *(["-p", parent] if parent else []), "-m", message, repo=repo)
    _git("update-ref", f"refs/heads/{branch}", commit, *([parent] if parent else []), repo=repo)
    return commit


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--folder", type=Path, default=ROOT / "_build" / "notebooks")
    parser.add_argument("--branch", default=None, help="default: reader_notebooks_branch of _config.yml")
    parser.add_argument("--push", metavar="REMOTE", help="push the branch to this remote afterwards")
    args = parser.parse_args(argv)
    branch = args.branch or configured_branch()
    try:
        commit = publish(args.folder, branch)
    except (FileNotFoundError, RuntimeError) as e:
        print(f"publish_notebooks: {e}", file=sys.stderr)
        return 1
    print(f"{branch}: {commit or 'unchanged'}")
    if args.push:
        subprocess.run(["git", "push", args.push, f"refs/heads/{branch}:refs/heads/{branch}"], cwd=ROOT, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
