"""Releasing student notebooks: solutions out, check cells and text in, outputs cleared."""

from __future__ import annotations

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from adamcourse.grading.cli import main as cli_main
from adamcourse.grading.release import ANSWER, STUB, ReleaseError, release, release_notebook, strip_code, strip_markdown


def test_strip_code_keeps_indentation_and_the_rest():
    src = ("def f(x):\n    '''Doc.'''\n    # BEGIN SOLUTION\n    y = x + 1\n    return y\n    # END SOLUTION\n"
           "\nprint(f)")
    assert strip_code(src) == f"def f(x):\n    '''Doc.'''\n    {STUB}\n\nprint(f)"
    assert strip_code("### BEGIN SOLUTION\nx = 1\n### END SOLUTION\n") == f"x = {ANSWER}\n"
    assert strip_code("x = 1") == "x = 1"


def test_a_top_level_value_region_becomes_an_ellipsis_per_name():
    src = ("import numpy as np\nanswer = None\n# BEGIN SOLUTION\n# m_hat = g, so the step is -lr * sign(g)\n"
           "answer = 0.1 * 2.0 / (2.0 + 1e-8)\n# END SOLUTION\nprint(answer)")
    assert strip_code(src) == f"import numpy as np\nanswer = None\nanswer = {ANSWER}\nprint(answer)"
    assert "m_hat" not in strip_code(src)  # the solution's comments go with it
    several = ("# BEGIN SOLUTION\nscale = 4.0\nlr_max, lr_min = 2 / scale, 0.0  # from L\n*rest, last = [1, 2]\n"
               "count: int = 3\ncount += 1\nscale = scale * 2\n# END SOLUTION\n")
    names = ["scale", "lr_max", "lr_min", "rest", "last", "count"]  # in order of first assignment, once each
    assert strip_code(several) == "".join(f"{n} = {ANSWER}\n" for n in names)
    assert strip_code("# BEGIN SOLUTION\n# only prose\n# END SOLUTION\n") == "# your answer here\n"


def test_a_top_level_function_region_becomes_a_stub_function():
    src = "# BEGIN SOLUTION\ndef double(x, *, k=2):\n    '''Doc.'''\n    return k * x\n# END SOLUTION\ny = 1\n"
    assert strip_code(src) == f"def double(x, *, k=2):\n    {STUB}\ny = 1\n"
    # followed by an indented region in another function: its stub is found on its own line, inside g
    src += "def g():\n    # BEGIN SOLUTION\n    return 3\n    # END SOLUTION\n"
    assert strip_code(src) == f"def double(x, *, k=2):\n    {STUB}\ny = 1\ndef g():\n    {STUB}\n"


@pytest.mark.parametrize("region, shown", [
    ("print(42)", "print(42)"),
    ("import math\nanswer = math.pi", "import math"),
    ("for i in range(3):\n    total = i", "for i in range(3):"),
    ("config.lr = 0.1", "config.lr = 0.1"),
    ("weights[0] = 1.0", "weights[0] = 1.0"),
])
def test_a_top_level_region_that_is_not_an_assignment_is_an_error_naming_the_cell(region, shown):
    nb = new_notebook(cells=[new_code_cell("x = 1"), new_code_cell(f"# BEGIN SOLUTION\n{region}\n# END SOLUTION")])
    with pytest.raises(ReleaseError, match="cell 1, line 1: a top-level solution region may only assign") as e:
        release_notebook(nb)
    assert f"`{shown}`" in str(e.value)


def test_a_region_that_is_not_valid_python_is_an_error():
    with pytest.raises(ReleaseError, match="cell 3, line 2: the solution is not valid Python"):
        strip_code("x = 1\n# BEGIN SOLUTION\nanswer = (1 +\n# END SOLUTION\n", "cell 3")


@pytest.mark.parametrize("src", [
    "for lr in (0.1, 0.01):\n    # BEGIN SOLUTION\n    run(lr)\n    # END SOLUTION\n",
    "class Config:\n    # BEGIN SOLUTION\n    lr = 0.1\n    # END SOLUTION\n",
    "def f():\n    pass\nif True:\n    # BEGIN SOLUTION\n    y = 2\n    # END SOLUTION\n",
])
def test_an_indented_region_whose_stub_runs_with_the_cell_is_an_error(src):
    with pytest.raises(ReleaseError, match="not inside a function, so its stub would raise"):
        strip_code(src)


def test_an_indented_region_inside_any_function_keeps_the_raising_stub():
    src = ("%matplotlib inline\nclass Model:\n    def step(self, x):\n        if x:\n"
           "            # BEGIN SOLUTION\n            return x\n            # END SOLUTION\n        return 0\n")
    assert strip_code(src) == src.replace("# BEGIN SOLUTION\n            return x\n            # END SOLUTION", STUB)


@pytest.mark.parametrize("src", ["# BEGIN SOLUTION\nx = 1", "x = 1\n# END SOLUTION",
                                 "# BEGIN SOLUTION\n# BEGIN SOLUTION\n# END SOLUTION"])
def test_unpaired_markers_are_an_error(src):
    with pytest.raises(ReleaseError):
        strip_code(src)


def test_solution_directives_leave_markdown():
    text = "Intro.\n\n```{solution} ex-1\n:class: dropdown\nAnswer.\n```\n\nAfter.\n"
    assert strip_markdown(text, False) == ("Intro.\n\nAfter.", False)
    colon = "::::{solution} ex-2\nA ```code``` answer\n::::\nkept"
    assert strip_markdown(colon, False) == ("kept", False)
    assert strip_markdown("```{exercise} Q\nAsk.\n```", False) == ("```{exercise} Q\nAsk.\n```", False)
    assert strip_markdown("Before\n```{solution-start} ex\n```\nhidden", False) == ("Before", True)
    assert strip_markdown("hidden\n```{solution-end}\n```\nshown", True) == ("shown", False)


def test_release_notebook_removes_gated_and_tagged_solutions_and_outputs():
    code = new_code_cell("# BEGIN SOLUTION\nanswer = 42\n# END SOLUTION", execution_count=3,
                         outputs=[new_output("stream", text="42")])
    nb = new_notebook(cells=[
        new_markdown_cell("```{exercise-start}\n:label: e\n```\nDo it."),
        code,
        new_markdown_cell("```{exercise-end}\n```\n```{solution-start} e\n```"),
        new_code_cell("print('the worked answer')"),
        new_markdown_cell("More of the solution."),
        new_markdown_cell("```{solution-end}\n```"),
        new_code_cell("solution_plot()", metadata={"tags": ["solution", "hide-input"]}),
        new_code_cell("check('adam_step', adam_step)", outputs=[new_output("stream", text="ok")]),
    ])
    out = release_notebook(nb)
    assert [c.cell_type for c in out.cells] == ["markdown", "code", "markdown", "code"]
    assert out.cells[1].source == f"answer = {ANSWER}" and out.cells[1].outputs == []
    assert out.cells[1].execution_count is None
    assert out.cells[2].source == "```{exercise-end}\n```"
    assert out.cells[3].source == "check('adam_step', adam_step)" and out.cells[3].outputs == []


def test_an_unclosed_solution_start_is_an_error():
    nb = new_notebook(cells=[new_markdown_cell("```{solution-start} e\n```"), new_code_cell("x = 1")])
    with pytest.raises(ReleaseError, match="solution-end"):
        release_notebook(nb)


def test_release_writes_the_tree_and_refuses_to_overwrite(tmp_path):
    src = tmp_path / "src"
    (src / "week1").mkdir(parents=True)
    (src / ".ipynb_checkpoints").mkdir()
    for path in (src / "week1" / "a.ipynb", src / ".ipynb_checkpoints" / "a-checkpoint.ipynb"):
        nbformat.write(new_notebook(cells=[new_code_cell("# BEGIN SOLUTION\nx = 1\n# END SOLUTION")]), path)
    written = release(src, tmp_path / "out")
    assert written == [tmp_path / "out" / "week1" / "a.ipynb"]
    assert nbformat.read(written[0], as_version=4).cells[0].source == f"x = {ANSWER}"
    assert (src / "week1" / "a.ipynb").read_text().count("BEGIN SOLUTION") == 1  # the source is untouched
    with pytest.raises(ValueError, match="overwrite"):
        release(src, src)


def test_cli_release(tmp_path, capsys):
    src = tmp_path / "hw.ipynb"
    nbformat.write(new_notebook(cells=[new_code_cell("# BEGIN SOLUTION\nx = 1")]), src)
    assert cli_main(["release", str(src), "--out", str(tmp_path / "out")]) == 2
    assert "without '# END SOLUTION'" in capsys.readouterr().err
    assert cli_main(["release", str(tmp_path / "missing"), "--out", str(tmp_path / "out")]) == 2


def test_released_notebook_runs_past_the_unanswered_exercises():
    """Executed in a real kernel: the instructor's notebook passes its check cells; the released one runs to
    the end with no cell raising, and each check cell says "not answered yet"."""
    from nbclient import NotebookClient

    exercise = new_code_cell("import numpy as np\n"
                             "def adam_step(theta, g, m, v, t, lr, beta1, beta2, eps):\n"
                             "    # BEGIN SOLUTION\n"
                             "    m = beta1 * m + (1 - beta1) * g\n"
                             "    v = beta2 * v + (1 - beta2) * g * g\n"
                             "    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)\n"
                             "    return theta - lr * m_hat / (np.sqrt(v_hat) + eps), m, v\n"
                             "    # END SOLUTION\n")
    check_cell = new_code_cell("from adamcourse.grading import check\nprint(check('adam_step', adam_step))")
    answer = new_code_cell("# BEGIN SOLUTION\nema_window_answer = 1 / (1 - 0.99)\n# END SOLUTION\n")
    check_answer = new_code_cell("print(check('ema_window_answer', globals().get('ema_window_answer')))")
    instructor = new_notebook(cells=[exercise, check_cell, answer, check_answer])
    student = release_notebook(nbformat.from_dict(instructor))  # a copy: executing one leaves the other

    def execute(nb):
        NotebookClient(nb, timeout=120, allow_errors=True, kernel_name="python3").execute()
        errors = {i: o["ename"] for i, c in enumerate(nb.cells) for o in c.get("outputs", [])
                  if o["output_type"] == "error"}
        text = ["".join(o.get("text", "") for o in c.get("outputs", [])) for c in nb.cells]
        return errors, text

    errors, text = execute(instructor)
    assert errors == {}
    assert "4/4 public cases passed" in text[1] and "1/1 public cases passed" in text[3]

    errors, text = execute(student)
    assert errors == {}
    assert student.cells[2].source == f"ema_window_answer = {ANSWER}\n"
    assert "adam_step is not answered yet: 0/4 public cases passed" in text[1]
    assert "ema_window_answer is not answered yet: 0/1 public cases passed" in text[3]
