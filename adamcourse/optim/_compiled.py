"""The compiled path of the ``torch.optim`` classes: one ``torch.compile`` of the same pure ``step`` per group.

:meth:`FunctionalOptimizer.compile() <adamcourse.optim._torch.FunctionalOptimizer.compile>` switches an
optimizer to it. Each ``step()`` then makes one call per param group to :func:`update_group`, compiled with
``fullgraph=True``, which runs the optimizer file's own ``step`` on every parameter of the group (the Python loop
over parameters is unrolled at trace time) and writes theta and the state back in place. Inductor fuses each
parameter's update into a single loop that reads theta, g and the state once and writes theta and the state once
(Adam: 28 bytes per fp32 parameter), all parameters of a group in one generated kernel.

What keeps it from recompiling, and exact:

* the step count ``t`` enters as the 0-d tensor ``torch.optim`` stores (``state["step"]``), converted to float64
  inside the graph, so ``beta1**t`` is computed in double precision as the readable path computes it in Python;
* :class:`HoistScalars` makes inductor compute such 0-d values (bias corrections) once per call instead of once
  per vector of the element loop (``std::pow`` inside the loop made the step 4x slower on a CPU);
* each optimizer compiles its own copy of :func:`update_group`: dynamo keeps its cache, and its limit of
  recompiles (8), per code object, and one optimizer must not use up another's;
* a parameter's first step (the state does not exist yet) runs the readable path, which creates the state.

The hyperparameters are checked eagerly before each compiled call (``check_range`` and the
``hyperparameters`` wrapper of :mod:`adamcourse.optim._common` do nothing while dynamo traces).
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable

import torch
from torch._inductor.custom_graph_pass import CustomGraphPass


def update_group(step, params, grads, states, hyper):
    """Run ``step`` on each ``(theta, grad, state)`` and write the results into ``params`` and ``states`` in
    place; return, per parameter, the state fields that were ``None`` and are tensors now (to be stored)."""
    created = []
    for theta, grad, state in zip(params, grads, states, strict=True):
        t = state.t.to(torch.float64) if isinstance(state.t, torch.Tensor) else state.t
        new_theta, new = step(theta, grad, state._replace(t=t), **hyper)
        theta.copy_(new_theta)
        fresh = {}
        for field, old, value in zip(state._fields, state, new, strict=True):
            if isinstance(old, torch.Tensor):
                if value is not old and value is not None:
                    old.copy_(value)                     # m, v, step, ...: updated where they are stored
            elif isinstance(value, torch.Tensor):
                fresh[field] = value                     # e.g. a momentum buffer switched on later
        created.append(fresh)
    return created


class HoistScalars(CustomGraphPass):
    """Inductor pass: realize every 0-d value that feeds an element-wise loop, so that it is computed once.

    Inductor inlines a cheap 0-d computation such as ``1 - beta1**t`` into the loop that uses it; on the CPU it
    then calls ``std::pow`` once per vector of the loop. ``as_strided(x, (), ())`` is a view that makes inductor
    store ``x`` in a buffer first (:func:`torch._inductor.lowering.as_strided` realizes its input)."""

    def __call__(self, graph: torch.fx.Graph) -> None:
        for node in list(graph.nodes):
            value = node.meta.get("val")
            if node.op != "call_function" or not isinstance(value, torch.Tensor) or value.dim() != 0:
                continue
            users = [u for u in node.users
                     if isinstance(u.meta.get("val"), torch.Tensor) and u.meta["val"].dim() > 0]
            if users:
                with graph.inserting_after(node):
                    hoisted = graph.call_function(torch.ops.aten.as_strided.default, (node, [], []))
                hoisted.meta.update(node.meta)
                for user in users:
                    user.replace_input_with(node, hoisted)

    def uuid(self) -> str:
        return "adamcourse.optim._compiled.HoistScalars-1"


def compiled_update(step: Callable) -> Callable:
    """``update_group`` for one optimizer's core ``step``, compiled; its own code object, hence its own cache."""
    code = update_group.__code__.replace()
    fn = types.FunctionType(code, update_group.__globals__, "update_group")
    compiled = torch.compile(fn, fullgraph=True, options={"post_grad_custom_post_pass": HoistScalars()})

    def run(params, grads, states, hyper):
        try:
            return compiled(step, params, grads, states, hyper)
        except torch._dynamo.exc.Unsupported as error:
            name = getattr(step, "__module__", "the optimizer")
            first = str(error).strip().splitlines()[0]
            raise RuntimeError(f"{name}.step does not trace into one graph with torch.compile ({first}); "
                               "use the readable path (do not call .compile())") from error
        except torch._dynamo.exc.BackendCompilerFailed as error:
            raise RuntimeError(f"torch.compile could not build the compiled step: {error}. "
                               f"{_what_is_missing(_devices(params)) or ''}".strip()) from error

    run.update_group = fn  # this optimizer's copy (tests check that each has its own code object)
    return run


def _devices(tensors) -> set[str]:
    return {t.device.type for t in tensors}


def _what_is_missing(devices) -> str | None:
    """Why torch.compile cannot run here for tensors on ``devices`` ("cpu", "cuda", ...), or None."""
    try:
        torch._dynamo.eval_frame.check_if_dynamo_supported()
    except Exception as error:  # noqa: BLE001 -- any reason dynamo gives is the answer
        return (f"torch.compile is not supported with Python {sys.version.split()[0]} and torch "
                f"{torch.__version__} on {sys.platform}: {error}")
    if "cpu" in devices:
        from torch._inductor import config
        from torch._inductor.cpp_builder import get_cpp_compiler

        try:
            get_cpp_compiler()
        except Exception:  # noqa: BLE001 -- InvalidCxxCompiler, or a broken compiler on Windows
            tried = [c for c in (config.cpp.cxx if isinstance(config.cpp.cxx, (list, tuple)) else [config.cpp.cxx])
                     if c]
            return (f"torch.compile on the CPU (inductor) needs a C++ compiler and none was found (tried "
                    f"{', '.join(tried) or 'the default'}; set CXX=... to choose one). Install one, e.g. "
                    "`apt install g++`, Xcode's command line tools or MSVC, or use the readable path")
    if "cuda" in devices:
        from torch.utils._triton import has_triton

        if not has_triton():
            return ("torch.compile on CUDA (inductor) needs the triton package, which is not installed: "
                    "`pip install triton`, or use the readable path")
    return None


def check_available(devices) -> None:
    """Raise ``RuntimeError`` saying what is missing if torch.compile cannot run for ``devices``."""
    missing = _what_is_missing(set(devices))
    if missing:
        raise RuntimeError(missing)
