"""adamcourse.grading.flags: the book's chapters and their released notebooks are not flagged; the reference,
optimizer libraries inside exercise functions, and escape hatches are, however they are spelled."""

from __future__ import annotations

import nbformat
import pytest

from adamcourse.grading.flags import flags
from adamcourse.grading.release import release
from adamcourse.grading.spec import EXERCISES

from book_build import ROOT, toc_pages

CHAPTERS = sorted((ROOT / "book").rglob("*.ipynb"))
SETUP = ("%matplotlib inline\nimport numpy as np\nimport torch\n"
         "from adamcourse.optim import adagrad, adam, rmsprop, sgd\n")
ADAM = ("def adam_step(theta, g, m, v, t, lr, beta1, beta2, eps):\n"
        "    m = beta1 * m + (1 - beta1) * g\n"
        "    v = beta2 * v + (1 - beta2) * g**2\n"
        "    m_hat, v_hat = m / (1 - beta1**t), v / (1 - beta2**t)\n"
        "    return theta - lr * m_hat / (np.sqrt(v_hat) + eps), m, v\n")


def _code(path) -> list[str]:
    return [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def test_chapters_and_released_notebooks_are_not_flagged(tmp_path):
    in_toc = [page for page in toc_pages() if (ROOT / f"{page}.ipynb").is_file()]
    assert len(CHAPTERS) == len(in_toc) >= 10     # every chapter and lab of the book's table of contents
    release(ROOT / "book", tmp_path)
    released = sorted(tmp_path.rglob("*.ipynb"))
    assert len(released) == len(CHAPTERS)
    for path in CHAPTERS + released:
        sources = _code(path)
        assert sources[0].startswith("# Setup") and "import adamcourse" in sources[0]
        assert flags(sources, EXERCISES) == [], path
    # the chapters do define exercises (so the exercise rules ran on them)
    assert any(src.startswith("def adam_step(") for src in _code(ROOT / "book/foundations/adam.ipynb"))


def test_an_honest_notebook_is_not_flagged():
    assert flags([SETUP, ADAM, "print(adam_step(np.zeros(2), np.ones(2), 0, 0, 1, 0.1, 0.9, 0.999, 1e-8))"],
                 EXERCISES) == []


@pytest.mark.parametrize("cells, expected", [
    # the grader's reference, in any spelling, anywhere
    (["from adamcourse.grading.references import adam_step"], "imports adamcourse.grading.references"),
    (["from adamcourse.grading import mistakes"], "imports adamcourse.grading.mistakes"),
    (["import adamcourse\nf = adamcourse.grading.references.adam_step"], "uses adamcourse.grading.references"),
    (["import importlib\nr = importlib.import_module('adamcourse.grading.references')"],
     "imports adamcourse.grading.references"),
    # escape hatches, anywhere
    (["import ctypes"], "imports ctypes"),
    (["import sys\nsys.modules.pop('adamcourse.optim', None)"], "uses sys.modules"),
    (["import sys\nm = vars(sys)['modules']\nm.pop('adamcourse.optim')"], "uses vars(sys)"),
    (["import sys as s\ns.modules['x'] = None"], "uses sys.modules"),
    (["from sys import modules"], "uses sys.modules"),
    (["exec('import ctypes')"], "uses exec()"),
    (["f = eval\nf('1')"], "uses eval()"),
    (["name = 'adamcourse.grading.' + 'references'\nr = __import__(name)"], "imports a module by a computed name"),
    (["%%capture\nimport ctypes"], "imports ctypes"),
])
def test_notebook_wide_flags(cells, expected):
    found = flags(cells, EXERCISES)
    assert any(f.startswith(expected) for f in found), found
    assert all(f.endswith(f"(code cell {len(cells)})") for f in found)


@pytest.mark.parametrize("cells, expected", [
    # torch.optim.Adam computing adam_step
    ([SETUP, "def adam_step(theta, g, m, v, t, lr, beta1, beta2, eps):\n"
             "    p = torch.tensor(theta, requires_grad=True)\n"
             "    opt = torch.optim.Adam([p], lr=lr, betas=(beta1, beta2), eps=eps)\n"
             "    p.grad = torch.tensor(g)\n    opt.step()\n    return p.detach().numpy(), m, v\n"],
     "adam_step uses torch.optim (an optimizer library) (code cell 2)"),
    # the reference under another name
    ([SETUP, "from adamcourse.optim import adam as a\n"
             "def adam_step(theta, g, m, v, t, lr, beta1, beta2, eps):\n"
             "    return a.step(theta, g, m, v, t, lr, beta1, beta2, eps)\n"],
     "adam_step uses adamcourse.optim (the reference) (code cell 2)"),
    ([SETUP, "def adam_step(*args):\n    return adam.step(*args)\n"],
     "adam_step uses adamcourse.optim (the reference) (code cell 2)"),
    ([SETUP, "from adamcourse import optim\ndef rmsprop_step(*args):\n    return optim.rmsprop.step(*args)\n"],
     "rmsprop_step uses adamcourse.optim (the reference) (code cell 2)"),
    # aliases of torch.optim
    ([SETUP, "import torch.optim as O\ndef adam_step(*args):\n    return O.Adam\n"],
     "adam_step uses torch.optim (an optimizer library) (code cell 2)"),
    ([SETUP, "from torch import optim\nA = optim.Adam\n", "def adam_step(*args):\n    return A(args)\n"],
     "adam_step uses torch.optim (an optimizer library) (code cell 3)"),
    ([SETUP, "O = getattr(torch, 'optim')\n", "def adamw_step(*args):\n    return O.AdamW\n"],
     "adamw_step uses torch.optim (an optimizer library) (code cell 3)"),
    # importing inside the function, other libraries, and through a helper
    ([SETUP, "def adagrad_step(*args):\n    import optax\n    return optax.adagrad\n"],
     "adagrad_step imports optax (an optimizer library) (code cell 2)"),
    ([SETUP, "def _helper(theta):\n    return torch.optim.SGD([theta])\n",
      "def sgd_momentum_step(theta, g, b, lr, momentum):\n    return _helper(theta), b\n"],
     "sgd_momentum_step uses torch.optim (an optimizer library) (through _helper) (code cell 2)"),
    ([SETUP, "def make():\n    from tensorflow import keras\n    return keras\n", "adam_step = make()\n"],
     "adam_step imports tensorflow (an optimizer library) (through make) (code cell 2)"),
    ([SETUP, "from torch.optim import *\n", "def adam_step(*args):\n    return Adam(args)\n"],
     "adam_step may use Adam from `from torch.optim import *`"),
    # dynamic look-ups inside an exercise function
    ([SETUP, "def adam_step(*args):\n    return getattr(torch, 'op' + 'tim').Adam\n"],
     "adam_step uses getattr (a dynamic look-up) (code cell 2)"),
    ([SETUP, "def adam_step(*args):\n    return globals()['adam'].step(*args)\n"],
     "adam_step uses globals (a dynamic look-up) (code cell 2)"),
    ([SETUP, "def adam_step(*args):\n    return __import__('torch').optim\n"],
     "adam_step uses __import__ (a dynamic look-up) (code cell 2)"),
    ([SETUP, "import importlib\ndef adam_step(*args):\n    return importlib.import_module('x')\n"],
     "adam_step uses importlib (a dynamic look-up) (code cell 2)"),
    ([SETUP, "import sys\ndef adam_step(*args):\n    return vars(sys)\n"],
     "adam_step uses vars (a dynamic look-up) (code cell 2)"),
    # the function the exercise asks for
    (["import torch\ndef clip_grad_norm(grads, max_norm):\n    return torch.nn.utils.clip_grad_norm_(grads, 1)\n"],
     "clip_grad_norm uses torch.nn.utils.clip_grad_norm_ (what the exercise asks you to write) (code cell 1)"),
])
def test_exercise_flags(cells, expected):
    found = flags(cells, EXERCISES)
    assert any(f.startswith(expected) for f in found), found


def test_what_is_not_flagged():
    """Top-level use of the reference (the chapters compare with it), torch.optim in the recipe exercise,
    a parameter that shadows an imported name, and functions that are not exercises."""
    cells = [SETUP, "ours = rmsprop.step\nopt = torch.optim.SGD([torch.zeros(1)], lr=0.1)\n",
             "def training_recipe(model, steps_per_epoch):\n"
             "    return torch.optim.Adam(model.parameters(), lr=1e-3), None, 3\n",
             "def train_step(model, x, y, optimizer):\n    optimizer.zero_grad()\n    return 0.0\n",
             "def adagrad_step(theta, g, G, lr, eps, adam=None):\n    adam = G + g * g\n"
             "    return theta - lr * g / (np.sqrt(adam) + eps), adam\n",
             "def compare():\n    return torch.optim.Adam, getattr(np, 'sqrt')\n"]
    assert flags(cells, EXERCISES) == []
    # only the plan's exercises are checked
    attack = [SETUP, "def adam_step(*a):\n    return torch.optim.Adam\n"]
    assert flags(attack, ["rmsprop_step"]) == [] and flags(attack, ["adam_step"])


def test_bad_input():
    with pytest.raises(TypeError, match="sources must be a list"):
        flags("import ctypes", EXERCISES)
    with pytest.raises(TypeError, match="not one string"):
        flags([], "adam_step")
    # cells that do not parse, and non-code cells (None), are skipped
    assert flags(["def (", None, "import ctypes"], EXERCISES) == ["imports ctypes (code cell 3)"]
    # code nested beyond what the parser (or the analysis) can follow is flagged, not a crash of the grader
    deep = ["x = " + "(" * 5000 + "1" + ")" * 5000, "y = 1" + " + 1" * 20000]
    assert all(f.startswith("code nested too deeply to check") for f in flags(deep, EXERCISES))
    assert flags(deep, EXERCISES)
