"""The public functions of nbadjoint (see the package docstring)."""

from __future__ import annotations

import functools

from .transform.program import compile_tree


def adjoint(func):
    """Mark ``func`` as a node of the differentiated call tree.

    Calling it still runs the plain function; ``grad`` transforms it (and everything it calls).
    """
    func.__nbadjoint__ = True
    return func


def _check_argnums(argnums):
    if isinstance(argnums, bool) or not (isinstance(argnums, int) or
                                         (isinstance(argnums, tuple) and all(isinstance(a, int) for a in argnums))):
        raise TypeError(f"argnums must be an int or a tuple of ints, got {argnums!r}")


def value_and_grad(f, argnums=0, placement=None):
    """Return ``vg(*args, **kwargs) -> (value, gradient(s))`` of the scalar function ``f``."""
    _check_argnums(argnums)
    prog = compile_tree(f, argnums)
    prog.placement(placement)          # validate the ids now

    @functools.wraps(f)
    def vg(*args, **kwargs):
        return compile_tree(f, argnums).run_adjoint(args, argnums, placement, kwargs=kwargs)

    return vg


def grad(f, argnums=0, placement=None):
    """Return ``g(*args, **kwargs)``: the gradient of scalar ``f`` w.r.t. argument(s) ``argnums``.

    Gradients have the structure of the arguments; integer arguments get None.
    """
    vg = value_and_grad(f, argnums, placement)

    @functools.wraps(f)
    def g(*args, **kwargs):
        return vg(*args, **kwargs)[1]

    return g


def vjp(f, *args, placement=None):
    """Run ``f(*args)`` and return ``(out, pullback)``; ``pullback(cotangent)`` gives one entry per argument."""
    return compile_tree(f).run_vjp(args, placement)


def adjoint_source(f) -> str:
    """The generated code (primal, forward and backward sweeps) of ``f`` and its callees."""
    return compile_tree(f).source()


def call_sites(f) -> list:
    """Call-site ids (``caller:lineno:callee``) of ``f``'s call tree, in depth-first order."""
    return [s.id for s in compile_tree(f).sites]
