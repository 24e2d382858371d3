"""Flags: what a notebook's code reaches for that an honest answer does not (static analysis, parent side).

The grader calls :func:`flags` on the notebook's code cells before any of them runs, so nothing the student's
code does at run time can erase a flag. Flags are reported next to the score; they do not change it.

The whole notebook is flagged for importing the grader's reference (``adamcourse.grading.references`` or
``mistakes``) and for the escape hatches (``ctypes``, ``sys.modules``, ``vars(sys)``, ``exec``/``eval``, a module
imported by a computed name). Importing ``adamcourse.optim`` or ``torch.optim`` is not flagged by itself (the
book's set-up cell does it); *using* them inside an exercise function is: the body of a ``def`` (or the value
assigned) named after an exercise, and the notebook's functions it refers to, must not reach the reference
or an optimizer library (:data:`OPTIMIZER_LIBRARIES`), import anything of them, nor use dynamic look-ups
(``getattr``, ``__import__``, ``importlib``, ``globals()``, ...). Names are followed through imports and
assignments anywhere in the notebook (``import torch.optim as O``, ``A = torch.optim.Adam``).

This is deterrence, not a proof: code can always compute what it wants; the sandbox is what protects the
grader.
"""

from __future__ import annotations

import ast
import builtins
import threading
from collections.abc import Iterable

REFERENCE = ("adamcourse.grading.references", "adamcourse.grading.mistakes")
#: Modules an exercise function must not use (module paths; their submodules and attributes count too).
OPTIMIZER_LIBRARIES = ("adamcourse.optim", "torch.optim", "torch_optimizer", "optax", "tensorflow", "keras",
                       "tf_keras", "jax.example_libraries.optimizers", "flax.optim", "timm.optim",
                       "transformers.optimization", "bitsandbytes.optim")
#: Exercises whose task is to use torch.optim (build an optimizer, call its step): the library rule is off.
USES_OPTIMIZERS = frozenset({"training_recipe", "train_step", "device_train_step"})
#: What each exercise must not call because it *is* the answer (beyond the optimizer libraries).
ANSWERS = {"clip_grad_norm": ("torch.nn.utils.clip_grad_norm_", "torch.nn.utils.clip_grad",
                              "torch.nn.utils.get_total_norm", "torch.nn.utils.clip_grads_with_norm_")}
_FLAGGED = REFERENCE + OPTIMIZER_LIBRARIES + tuple(a for v in ANSWERS.values() for a in v)
ESCAPES = ("ctypes", "_ctypes", "cffi")
DYNAMIC = ("getattr", "setattr", "delattr", "__import__", "exec", "eval", "compile", "globals", "locals", "vars",
           "__builtins__", "breakpoint")
DYNAMIC_MODULES = ("importlib", "sys", "builtins", "inspect", "gc", "types", "ctypes")
#: ``grade(..., jobs=N)`` runs students in threads; ast.parse in two threads at once can raise "SystemError: AST
#: constructor recursion depth mismatch" on CPython 3.11 (seen in the book's full-marks test), so parses take turns.
_AST_LOCK = threading.Lock()
_IMPORTERS = ("builtins.__import__", "importlib.import_module", "importlib.__import__")
_MAGIC_CALLS = ("run_line_magic", "run_cell_magic")


def _within(path: str, modules: Iterable[str]) -> str | None:
    """The module of ``modules`` that ``path`` is (or is inside), or None."""
    return next((m for m in modules if path == m or path.startswith(m + ".")), None)


class _Notebook:
    """The notebook's cells parsed, with what every name can be bound to (imports and assignments)."""

    def __init__(self, sources: list[str | None]):
        self.trees: list[tuple[int, ast.Module]] = []
        self.unreadable: list[int] = []  # cells too deeply nested to parse
        for k, source in enumerate(sources):
            if source and isinstance(source, str):
                self._add(k, _python(source))
        self.bindings: dict[str, set[str]] = {}   # name -> module paths it may stand for
        self.functions: dict[str, list[tuple[int, ast.AST]]] = {}   # name -> defs (and lambdas, classes)
        self.star: list[str] = []                 # modules imported with `from m import *`
        for k, tree in self.trees:
            for node in ast.walk(tree):
                self._collect(k, node)
        assignments = [node for _, tree in self.trees for node in ast.walk(tree) if _assignment(node)]
        for _ in range(4):  # assignments through assignments: A = torch.optim; B = A.Adam
            if not any([self._assigned(node) for node in assignments]):
                break

    def _add(self, k: int, source: str) -> None:
        try:
            with _AST_LOCK:  # CPython 3.11's ast is not thread-safe: concurrent parses raise SystemError
                tree = ast.parse(source)
        except (SyntaxError, ValueError):  # the student's process reports it when the cell runs
            return
        except (RecursionError, MemoryError):
            self.unreadable.append(k)
            return
        self.trees.append((k, tree))
        for node in ast.walk(tree):  # %%capture, %time ...: the magic's Python is a string; parse it too
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                    node.func.attr in _MAGIC_CALLS:
                for arg in node.args[1:]:
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value.strip():
                        self._add(k, _python(arg.value))

    def _bind(self, name: str, path: str) -> bool:
        paths = self.bindings.setdefault(name, set())
        if path in paths:
            return False
        paths.add(path)
        return True

    def _collect(self, k: int, node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    self._bind(a.asname, a.name)
                else:
                    self._bind(a.name.split(".")[0], a.name.split(".")[0])
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for a in node.names:
                if a.name == "*":
                    self.star.append(node.module)
                else:
                    self._bind(a.asname or a.name, f"{node.module}.{a.name}")
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            self.functions.setdefault(node.name, []).append((k, node))
        elif isinstance(node, ast.Assign) and isinstance(node.value, ast.Lambda):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    self.functions.setdefault(target.id, []).append((k, node.value))

    def _assigned(self, node: ast.AST) -> bool:
        """Bind the names an assignment (or walrus, for, with) stores to the modules its value refers to."""
        targets, value = _assignment(node)
        paths = {_relevant(p) for sub in ast.walk(value) if isinstance(sub, (ast.Name, ast.Attribute, ast.Call))
                 for p in self.resolve(sub)} - {None}
        names = [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)]
        return any([self._bind(name, p) for name in names for p in paths])

    def resolve(self, node: ast.AST, local: frozenset[str] = frozenset()) -> set[str]:
        """The module paths an expression may stand for: ``O.Adam`` -> {"torch.optim.Adam"} after
        ``import torch.optim as O``; ``getattr(torch, "optim")`` and ``__import__("torch.optim")`` too."""
        if isinstance(node, ast.Name):
            if node.id in local:
                return set()
            found = set(self.bindings.get(node.id, ()))
            if not found and hasattr(builtins, node.id):
                found = {f"builtins.{node.id}"}
            if not found and node.id == "torch":  # `torch.optim` needs no import to be read as torch.optim
                found = {"torch"}
            return found
        if isinstance(node, ast.Attribute):
            return {f"{p}.{node.attr}" for p in self.resolve(node.value, local)}
        if isinstance(node, ast.Call) and node.args:
            funcs = self.resolve(node.func, local)
            first = node.args[0]
            name = first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None
            if name and funcs & set(_IMPORTERS):
                return {name}
            if funcs & {"builtins.getattr"} and len(node.args) >= 2 and isinstance(node.args[1], ast.Constant) \
                    and isinstance(node.args[1].value, str):
                return {f"{p}.{node.args[1].value}" for p in self.resolve(first, local)}
        return set()


def _relevant(path: str) -> str | None:
    """What an assignment passes on of ``path``: a flagged module (``torch.optim.Adam`` -> ``torch.optim``),
    a package on the way to one (``torch``, ``torch.nn``), a dynamic look-up (``builtins.getattr``,
    ``sys.modules``); None for anything else (so that the bindings stay few)."""
    if module := _within(path, _FLAGGED):
        return module
    if _within(path, DYNAMIC_MODULES):
        return ".".join(path.split(".")[:2])
    if path.startswith("builtins."):
        return path if path.split(".", 1)[1] in DYNAMIC + ("__import__",) else None
    return path if any(m.startswith(path + ".") for m in _FLAGGED) else None


def _assignment(node: ast.AST) -> tuple[list[ast.AST], ast.AST] | None:
    """(targets, value) of an assignment, walrus, ``for`` or ``with ... as``; None for other nodes."""
    if isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.NamedExpr)) and node.value is not None:
        return getattr(node, "targets", None) or [node.target], node.value
    if isinstance(node, (ast.For, ast.AsyncFor, ast.comprehension)):
        return [node.target], node.iter
    if isinstance(node, ast.withitem) and node.optional_vars is not None:
        return [node.optional_vars], node.context_expr
    return None


def _python(source: str) -> str:
    """A cell's source as Python: IPython's transformer turns magics and ``!`` lines into calls."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager

        return TransformerManager().transform_cell(source)
    except Exception:  # the transformer chokes on some invalid code; ast.parse reports it (and it is skipped)
        return source


def _exercise_names(exercises) -> set[str]:
    if isinstance(exercises, str):
        raise TypeError("exercises must be a collection of exercise names (or Exercise objects), not one string")
    return {e if isinstance(e, str) else e.name for e in exercises}


def flags(sources: list[str | None], exercises) -> list[str]:
    """Flags for the notebook whose code cells are ``sources`` (in order; None for a cell that is not code),
    given the plan's ``exercises`` (names or :class:`~adamcourse.grading.spec.Exercise` objects). Each flag is a
    sentence ending with the code cell it was found in: ``"adam_step uses torch.optim (an optimizer library)
    (code cell 5)"``."""
    if not isinstance(sources, (list, tuple)):
        raise TypeError(f"sources must be a list of cell sources, got {type(sources).__name__}")
    names = _exercise_names(exercises)
    found: list[str] = []

    def flag(message: str, k: int) -> None:
        text = f"{message} (code cell {k + 1})"
        if text not in found:
            found.append(text)

    try:
        nb = _Notebook(list(sources))
        for k in nb.unreadable:
            flag("code nested too deeply to check", k)
        for k, tree in nb.trees:
            _scan_notebook(nb, tree, lambda message, k=k: flag(message, k))
        for name in sorted(names):
            for k, node in _exercise_nodes(nb, name):
                _scan_exercise(nb, name, node, k, flag)
    except RecursionError:  # an expression nested deeper than Python's stack (the parse itself succeeded)
        flag("code nested too deeply to check", len(sources) - 1)
    return found


def _scan_notebook(nb: _Notebook, tree: ast.Module, flag) -> None:
    """The whole-notebook rules: the grader's reference, and the escape hatches."""
    for node in ast.walk(tree):
        modules = []
        if isinstance(node, ast.Import):
            modules = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for module in modules:
            if reference := _within(module, REFERENCE):
                flag(f"imports {reference} (the grader's reference)")
            elif escape := _within(module, ESCAPES):
                flag(f"imports {escape}")
            elif _within(module, ("sys",)) and module == "sys.modules":
                flag("uses sys.modules")
        if isinstance(node, (ast.Name, ast.Attribute)) and isinstance(node.ctx, ast.Load):
            for path in nb.resolve(node):
                if reference := _within(path, REFERENCE):
                    flag(f"uses {reference} (the grader's reference)")
                elif path in ("sys.modules", "sys.__dict__", "builtins.__dict__"):
                    flag(f"uses {path}")
                elif path in ("builtins.exec", "builtins.eval"):
                    flag(f"uses {path.split('.')[1]}()")
            if isinstance(node, ast.Name) and node.id == "__builtins__":
                flag("uses __builtins__")
        if isinstance(node, ast.Call) and node.args:
            funcs = nb.resolve(node.func)
            first = node.args[0]
            if funcs & {"builtins.vars", "builtins.getattr"} and \
                    nb.resolve(first) & {"sys", "builtins"}:
                which = sorted(nb.resolve(first) & {"sys", "builtins"})[0]
                flag(f"uses {sorted(funcs & {'builtins.vars', 'builtins.getattr'})[0].split('.')[1]}({which})")
            if funcs & set(_IMPORTERS):
                constant = isinstance(first, ast.Constant) and isinstance(first.value, str)
                if not constant:
                    flag("imports a module by a computed name")
                elif reference := _within(first.value, REFERENCE):
                    flag(f"imports {reference} (the grader's reference)")
                elif escape := _within(first.value, ESCAPES):
                    flag(f"imports {escape}")


def _exercise_nodes(nb: _Notebook, name: str) -> list[tuple[int, ast.AST]]:
    """The definitions of exercise ``name``: its defs, and the values assigned to the name."""
    nodes = [(k, node) for k, node in nb.functions.get(name, []) if not isinstance(node, ast.Lambda)]
    for k, tree in nb.trees:
        for node in ast.walk(tree):
            if isinstance(node, (ast.Assign, ast.AnnAssign, ast.NamedExpr)) and node.value is not None:
                targets = getattr(node, "targets", None) or [node.target]
                if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                    nodes.append((k, node.value))
    return nodes


def _locals(node: ast.AST) -> frozenset[str]:
    """Names a function binds itself (parameters, assignments): they shadow the notebook's."""
    names = set()
    for sub in ast.walk(node):
        if isinstance(sub, ast.arg):
            names.add(sub.arg)
        elif isinstance(sub, ast.Name) and isinstance(sub.ctx, (ast.Store, ast.Del)):
            names.add(sub.id)
    return frozenset(names)


def _forbidden(path: str, libraries: tuple[str, ...], answers: tuple[str, ...]) -> str | None:
    """What ``path`` is, said for the student, when an exercise must not use it; else None."""
    if lib := _within(path, libraries):
        kind = "the grader's reference" if lib in REFERENCE else \
            "the reference" if lib == "adamcourse.optim" else "an optimizer library"
        return f"{lib} ({kind})"
    if answer := _within(path, answers):
        return f"{answer} (what the exercise asks you to write)"
    if module := _within(path, DYNAMIC_MODULES):
        return f"{module} (a dynamic look-up)"
    return None


def _scan_exercise(nb: _Notebook, name: str, root: ast.AST, cell: int, flag) -> None:
    """The rules for one exercise's code (``root``, in code cell ``cell``), following the notebook's functions
    it refers to; ``flag(message, cell)`` names the cell of the code that uses what is flagged."""
    libraries = REFERENCE + (("adamcourse.optim",) if name in USES_OPTIMIZERS else OPTIMIZER_LIBRARIES)
    answers = ANSWERS.get(name, ())
    seen: set[int] = set()
    todo: list[tuple[ast.AST, str, int]] = [(root, "", cell)]
    while todo:
        node, via, k = todo.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        local = _locals(node) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) \
            else frozenset()
        where = f" (through {via})" if via else ""

        def library(path: str, verb: str, where=where, k=k) -> None:
            if what := _forbidden(path, libraries, answers):
                flag(f"{name} {verb} {what}{where}", k)

        for sub in ast.walk(node):
            if isinstance(sub, ast.Import):
                for a in sub.names:
                    library(a.name, "imports")
            elif isinstance(sub, ast.ImportFrom) and sub.module:
                for a in sub.names:
                    library(f"{sub.module}.{a.name}", "imports")
                    if a.name == "*":
                        library(sub.module, "imports")
            elif isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load):
                if sub.id in DYNAMIC and sub.id not in local and sub.id not in nb.bindings:
                    flag(f"{name} uses {sub.id} (a dynamic look-up){where}", k)
                    continue
                paths = nb.resolve(sub, local)
                for path in paths:
                    if path.startswith("builtins."):
                        if path.split(".", 1)[1] in DYNAMIC:
                            flag(f"{name} uses {path.split('.', 1)[1]} (a dynamic look-up){where}", k)
                    else:
                        library(path, "uses")
                if sub.id not in local:
                    for k_def, target in nb.functions.get(sub.id, []):
                        todo.append((target, f"{via} -> {sub.id}" if via else sub.id, k_def))
                    if not paths and sub.id not in nb.functions:
                        for module in nb.star:
                            if what := _forbidden(module, libraries, answers):
                                flag(f"{name} may use {sub.id} from `from {module} import *`: {what}{where}", k)
            elif isinstance(sub, ast.Attribute) and isinstance(sub.ctx, ast.Load):
                for path in nb.resolve(sub, local):
                    library(path, "uses")
