"""Settings for the whole test suite."""
import os

# every generated sweep is checked to print back to exactly its tree (see nbadjoint/transform/sweep_ast.py)
os.environ.setdefault("NBADJOINT_CHECK_PRINT", "1")
