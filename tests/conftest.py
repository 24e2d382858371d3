"""Shared test settings and the one book build of a test session."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from book_build import build

# The tests use small tensors: extra intra-op threads only add contention on a 2-core CI machine
# (measured: one 100-step comparison took 27 s with 2 threads under load, 3.4 s with 1).
torch.set_num_threads(1)


@pytest.fixture(scope="session")
def built_book(tmp_path_factory) -> Path:
    """Build the book once per test session, as ``make book`` does, into a temporary folder; return its
    ``_build/html``. A failed build (any warning, with -W) fails every test that uses it."""
    out = tmp_path_factory.mktemp("book")
    result = build(out)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + "\n" + result.stderr).splitlines()[-80:])
        pytest.fail(f"`{result.args}` exited with {result.returncode}; last lines:\n{tail}", pytrace=False)
    return out / "_build" / "html"
