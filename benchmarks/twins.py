"""Re-execute an example module's source with `np` bound to autograd.numpy (or jax.numpy).

autograd and JAX trace through their own NumPy namespaces, so the same model source is run
with a different `np`; the functions look `np` up as a module global at call time.
"""
import inspect
import types


def twin_module(module, numpy_namespace, label):
    """A copy of `module` whose functions call `numpy_namespace` wherever the source says `np`."""
    source = inspect.getsource(module)
    twin = types.ModuleType(f"{module.__name__}_{label}")
    twin.__file__ = module.__file__
    exec(compile(source, module.__file__, "exec"), twin.__dict__)
    twin.np = numpy_namespace
    return twin


def autograd_twin(module):
    """`module` re-executed on autograd.numpy."""
    import autograd.numpy as anp
    return twin_module(module, anp, "autograd")


def jax_twin(module):
    """`module` re-executed on jax.numpy."""
    import jax.numpy as jnp
    return twin_module(module, jnp, "jax")
