"""nbadjoint: readable adjoints of NumPy code, call-tree checkpointing and checkpoint advice.

    import nbadjoint as nba
    g = nba.grad(model)(x0)            # gradient by a generated adjoint
    print(nba.adjoint_source(model))   # read it
    p = nba.profile(model, x0)         # per call site: time, tape, what checkpointing costs
    p.suggest()                        # where to drop checkpoints, within a memory budget
    nba.map_grad(model, inputs, executor=client)   # many gradients, on Dask or a process pool
"""

from .api import adjoint, adjoint_source, call_sites, grad, loops, map_grad, value_and_grad, vjp
from .errors import AliasError, PlacementError, ProfileError, TransformError
from .transform.user_rules import defvjp, nondifferentiable, primitive

__version__ = "0.1.0"

__all__ = ["adjoint", "grad", "value_and_grad", "vjp", "map_grad", "adjoint_source", "call_sites", "loops", "profile",
           "Profile", "ProfileError", "TransformError", "AliasError", "PlacementError", "defvjp", "primitive",
           "nondifferentiable", "load_ipython_extension",
           "unload_ipython_extension"]


def __getattr__(name):
    if name in ("profile", "Profile"):
        from . import profiling
        return getattr(profiling, name)
    raise AttributeError(f"module 'nbadjoint' has no attribute {name!r}")


def load_ipython_extension(ipython):
    """``%load_ext nbadjoint``: register the ``%%adjoint_profile`` and ``%adjoint_source`` magics."""
    from .notebook.magics import load_ipython_extension as _load
    _load(ipython)


def unload_ipython_extension(ipython):
    try:
        from .notebook.magics import unload_ipython_extension as _unload
    except ImportError:
        return
    _unload(ipython)
