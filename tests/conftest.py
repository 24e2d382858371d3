"""Shared test settings and the one book build of a test session."""

from __future__ import annotations

import os
import re
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
    ``_build/html``. A failed build (any warning, with -W) fails every test that uses it.

    ``ADAMCOURSE_BUILT_BOOK=_build/html`` reuses a finished ``make book`` instead (a developer's shortcut while
    working on the tests of the HTML; ``make test`` always builds afresh)."""
    reuse = os.environ.get("ADAMCOURSE_BUILT_BOOK")
    if reuse:
        return Path(reuse).resolve()
    out = tmp_path_factory.mktemp("book")
    result = build(out)
    if result.returncode != 0:
        lines = (result.stdout + "\n" + result.stderr).splitlines()
        problems = [line for line in lines if re.search(r"WARNING|ERROR|Error|Traceback", line)
                    and "Kernel is running over TCP" not in line]
        tail = "\n".join(lines[-30:])
        pytest.fail(f"`{result.args}` exited with {result.returncode}; its warnings and errors:\n"
                    + "\n".join(problems[:40]) + f"\nlast lines:\n{tail}", pytrace=False)
    return out / "_build" / "html"


def pytest_collection_finish(session):
    """Importing ``torch.testing._internal.common_utils`` (the optim_db tests do, to read PyTorch's own test
    cases) calls ``torch.backends.disable_global_flags()`` for the whole process, after which
    ``adamcourse.runtime.seed_everything`` cannot set cuDNN's flags. Undo it once collection is over (torch has
    no public call for that: the module global that flags_frozen reads is set back)."""
    if torch.backends.flags_frozen():
        torch.backends.flags_frozen.__globals__["__allow_nonbracketed_mutation_flag"] = True
        assert not torch.backends.flags_frozen()
