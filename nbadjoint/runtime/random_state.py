"""The state of random generators around a checkpointed call, for the generated code.

A checkpointed call runs its callee's primal in the forward sweep and runs it again, taping, in
the backward sweep.  If the callee draws random numbers, the second run must draw the same ones:
the forward sweep saves the state of every generator the callee draws from before the call
(`capture`), and the backward sweep sets it back before recomputing (`restore`).  Nothing else in
a backward sweep draws, so the run as a whole returns the generators to where its forward sweep
left them once, at the end (`nbadjoint.transform.runner`): the run leaves them where one call of
the function would.  The generators are ``np.random.Generator`` (its bit generator's state),
``np.random.RandomState`` (the one behind ``np.random.*`` among them) and ``random.Random`` (the
one behind the ``random`` module among them); None (a generator parameter left at its default)
and a seed (``default_rng(seed)`` is also given generators) have no state.
"""

from __future__ import annotations

import random

import numpy as np


# the objects whose state draws advance (and a pickled pullback copies)
GENERATOR_TYPES = (np.random.Generator, np.random.RandomState, np.random.BitGenerator, random.Random)


def _state(gen):
    if gen is None:
        return None
    if isinstance(gen, np.random.Generator):
        return gen.bit_generator.state
    if isinstance(gen, np.random.RandomState):
        return gen.get_state(legacy=False)
    if isinstance(gen, random.Random):
        return gen.getstate()
    if isinstance(gen, np.random.BitGenerator):
        return gen.state
    if isinstance(gen, (int, np.integer, np.random.SeedSequence)) or (
            isinstance(gen, (list, tuple, np.ndarray)) and all(isinstance(v, (int, np.integer)) for v in gen)):
        return None             # a seed (default_rng(seed) may also be given a generator): no state
    raise TypeError(f"random numbers are drawn from a {type(gen).__name__}, whose state nbadjoint cannot save "
                    "to replay the draws when a checkpointed call is recomputed: pass a np.random.Generator, "
                    "a np.random.RandomState or a random.Random")


def _set_state(gen, state):
    if state is None:
        return
    if isinstance(gen, np.random.Generator):
        gen.bit_generator.state = state
    elif isinstance(gen, np.random.RandomState):
        gen.set_state(state)
    elif isinstance(gen, random.Random):
        gen.setstate(state)
    else:
        gen.state = state


def capture(generators: tuple) -> tuple:
    """The state of each generator (copies: drawing afterwards does not change them)."""
    return tuple(_state(g) for g in generators)


def restore(generators: tuple, states: tuple) -> None:
    """Set each generator to its state in ``states``."""
    for g, s in zip(generators, states):
        _set_state(g, s)


def check_scale(scale, name):
    """NumPy's check of a location-scale draw computed as ``loc + scale * z``: a negative scale
    raises the ValueError NumPy raises."""
    if np.any(np.asarray(scale) < 0):
        raise ValueError(f"{'sigma' if name == 'lognormal' else 'scale'} < 0")


def draw_size(*params):
    """The ``size`` of a standard draw standing for a location-scale draw whose size is not given:
    the shape its parameters broadcast to, or None (a single number) when they are all scalars."""
    shape = np.broadcast_shapes(*(np.shape(p) for p in params))
    return shape or None


def standard_uniform(gen, size):
    """``gen.random(size)``, for a generator that may be a ``random.Random`` (which takes no size)."""
    if isinstance(gen, random.Random):
        if size is not None:
            raise TypeError("random.Random.uniform draws one number: its parameters must be scalars")
        return gen.random()
    return gen.random(size)


def shuffle_order(gen, x):
    """The order ``gen.shuffle(x)`` puts the items of the array ``x`` in, drawing as it does:
    ``x`` shuffled is ``x[order]``."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"shuffling a {type(x).__name__} in place is not differentiated (only a NumPy array): "
                        "shuffle np.asarray(...) of it, or take its items in a drawn order, e.g. "
                        "L = [L[i] for i in rng.permutation(len(L))]")
    n = len(x)
    if isinstance(gen, random.Random):
        order = list(range(n))
        gen.shuffle(order)
        return np.array(order, dtype=np.intp)
    return gen.permutation(n)


__all__ = ["capture", "draw_size", "restore", "shuffle_order", "standard_uniform"]
