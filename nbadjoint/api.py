"""The public functions of nbadjoint (see the package docstring)."""

from __future__ import annotations

from .errors import TransformError
from .marker import adjoint
from .transform import draws, results, runner
from .transform.program import compile_tree
from .travel import GradientFunction, Pullback, map_grad, with_generators_copied


def value_and_grad(f, argnums=0, placement=None):
    """Return ``vg(*args, **kwargs) -> (value, gradient(s))`` of the scalar function ``f``.

    ``f`` is a Python function (or a functools.partial of one: ``argnums`` then count the arguments
    it leaves free). Each call differentiates the code that runs now: a function redefined, reloaded
    or monkeypatched since the last call is compiled again.
    """
    return _value_and_grad(f, argnums, placement, "nba.value_and_grad")


def grad(f, argnums=0, placement=None):
    """Return ``g(*args, **kwargs)``: the gradient of scalar ``f`` w.r.t. argument(s) ``argnums``.

    Gradients have the structure and dtype of the arguments; integer arguments get None.
    """
    _check_now(f, argnums, placement, "nba.grad")
    return _make("grad", f, argnums, placement, "nba.grad")


def _check_now(f, argnums, placement, what):
    """Refuse what cannot be done now, before any argument is seen (what depends on the classes of
    the arguments is decided at the call)."""
    try:
        program = compile_tree(f, argnums, what)
    except TransformError as exc:
        if getattr(exc, "unknown_class", False):
            return
        raise
    if program.class_hints.get(program.root_key) or getattr(program, "unknown_classes", False):
        return          # (its call sites are those of the classes of the arguments it is called with)
    program.placement(placement)


def _make(transform, f, argnums, placement, what: str):
    """The callable `grad` or `value_and_grad` returns; it pickles (see `nbadjoint.travel`)."""
    return GradientFunction(f, argnums, placement, transform, what, _run_value_and_grad)


def _value_and_grad(f, argnums, placement, what: str):
    _check_now(f, argnums, placement, what)
    return _make("value_and_grad", f, argnums, placement, what)


def _run_value_and_grad(f, argnums, placement, what, args, kwargs):
    program = compile_tree(f, argnums, what, call_args=args)
    _check_arguments(program, args, kwargs)
    return runner.run_adjoint(program, args, argnums, placement, kwargs=kwargs)


def vjp(f, *args, placement=None):
    """Run ``f(*args)`` and return ``(out, pullback)``; ``pullback(cotangent)`` gives one entry per argument.

    The cotangent has the structure and shapes of ``out``.  The pullback pickles (as ``f`` and
    the arguments: a copy runs the forward sweep again before its backward sweep).
    """
    carried = with_generators_copied(args)       # as they are before the forward sweep draws
    out, pullback = _forward(f, args, placement)
    program = compile_tree(f, None, "nba.vjp", call_args=args)
    shared = [src[1] for src in draws.generators(program, program.root_key) if src[0] == "obj"]
    return out, Pullback(f, carried, placement, pullback, draws_from_module_generators=bool(shared))


def _forward(f, args, placement):
    program = compile_tree(f, None, "nba.vjp", call_args=args)
    _check_arguments(program, args, {})
    return runner.run_vjp(program, args, placement)


def _check_arguments(program, args, kwargs):
    """Refuse argument types the adjoint would get wrong (NumPy array subclasses), before running."""
    results.check_argument_types(program.bound_args + args, {**program.bound_kwargs, **kwargs}, program.root_name)


def adjoint_source(f, argnums=None, *, args=None, placement=None) -> str:
    """The generated code (primal, forward and backward sweeps) of ``f`` and its callees.

    With ``argnums`` (an int or a tuple, as for `grad`) the code differentiates only those
    arguments: the code ``grad(f, argnums)`` runs.  None (the default): every argument.  With
    ``args`` (a tuple of positional arguments), the code compiled for arguments of those kinds
    (arrays, numbers), which is what ``grad(f, argnums)(*args)`` runs: its specialised bodies are
    chosen for them.  With ``placement``, the code compiled for the loops it gives snapshots
    (see `loops`; call-site values do not change the code).
    """
    if args is not None and not isinstance(args, (tuple, list)):
        raise TypeError(f"adjoint_source: args must be a tuple of positional arguments, e.g. args=(x0,), "
                        f"not {type(args).__name__}")
    return compile_tree(f, argnums, "nba.adjoint_source", call_args=args).for_placement(placement).source()


def call_sites(f, args=None) -> list:
    """Call-site ids (``caller:lineno:callee``) of ``f``'s call tree, in depth-first order.

    With ``args`` (a tuple of positional arguments), the tree of ``f`` called with them: the methods
    of an object argument are followed for the object's class."""
    return [s.id for s in compile_tree(f, None, "nba.call_sites", call_args=_args(args, "call_sites")).sites]


def _args(args, what):
    if args is not None and not isinstance(args, (tuple, list)):
        raise TypeError(f"{what}: args must be a tuple of positional arguments, e.g. args=(x0,), "
                        f"not {type(args).__name__}")
    return args


def loops(f, args=None) -> list:
    """Loop ids (``caller:lineno:for``) of the ``for ... in range(...)`` loops of ``f``'s call tree.

    In a placement, a loop id maps to an int S (the loop keeps S snapshots of its state in memory
    and recomputes the rest, by the binomial schedule), to ``{"ram": S, "disk": D}`` (D more on
    disk) or to None (every iteration kept: the default, unless the loop's line carries a comment
    ``# nbadjoint: snapshots=S``).
    """
    return [s.id for s in compile_tree(f, None, "nba.loops", call_args=_args(args, "loops")).loop_sites]


__all__ = ["adjoint", "grad", "value_and_grad", "vjp", "map_grad", "adjoint_source", "call_sites", "loops"]
