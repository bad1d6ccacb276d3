"""Where a generator's choices come from: hypothesis (in tests, shrinkable and derandomisable) or a
seeded ``random.Random`` (in the campaign, fast and reproducible from the printed seed).

Generators only call ``int(lo, hi)``, ``choice(options)`` and ``flip(num, den)``, so the same
generator code serves both.
"""

import random


class HypothesisChooser:
    """Choices drawn from hypothesis inside ``@st.composite``."""

    def __init__(self, draw):
        from hypothesis import strategies as st
        self._draw = draw
        self._st = st

    def int(self, lo, hi):
        return self._draw(self._st.integers(lo, hi))

    def choice(self, options):
        return self._draw(self._st.sampled_from(list(options)))

    def flip(self, num=1, den=2):
        return self.int(0, den - 1) < num


class RandomChooser:
    """Choices drawn from ``random.Random(seed)``: the same seed gives the same program."""

    def __init__(self, seed):
        self.seed = seed
        self._rng = random.Random(seed)

    def int(self, lo, hi):
        return self._rng.randint(lo, hi)

    def choice(self, options):
        options = list(options)
        return options[self._rng.randrange(len(options))]

    def flip(self, num=1, den=2):
        return self.int(0, den - 1) < num
