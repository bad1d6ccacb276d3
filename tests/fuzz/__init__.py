"""Differential fuzzing of nbadjoint: program generators by family, an oracle that classifies
each program's outcome, and a campaign command (``python -m tests.fuzz --n 10000``).

Importable as ``tests.fuzz`` (the campaign, from the repository root) and as ``fuzz`` (pytest puts
tests/ on sys.path); it imports the test helpers (gradcheck, test_random_programs) from tests/.
"""

import sys
from pathlib import Path

TESTS_DIR = str(Path(__file__).resolve().parents[1])
if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)
