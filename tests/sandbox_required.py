"""The mark for tests that run the grader, which refuses to run student code without bubblewrap: they are
skipped, saying so, where bubblewrap is missing, and fail in CI (``CI`` set), where .ci/run installs it."""

from __future__ import annotations

import os

import pytest

from adamcourse.grading import sandbox

needs_sandbox = pytest.mark.skipif(
    sandbox.available() is None and not os.environ.get("CI"),
    reason="bubblewrap (`bwrap`) is not installed or cannot start here: the grader refuses to run without its "
           "sandbox (Debian/Ubuntu: apt-get install bubblewrap)")
