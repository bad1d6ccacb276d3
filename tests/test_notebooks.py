"""Every notebook in examples/ executes headless, top to bottom, without an error."""
import time
from pathlib import Path

import nbformat
import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
NOTEBOOKS = sorted(EXAMPLES.glob("*.ipynb"))
# Each example runs in under a minute on an idle 2-core machine; twice that leaves room for a
# machine shared with other work.
TIME_LIMIT_S = 120.0


def execute(path):
    """Run the notebook in a fresh python3 kernel started in its own folder; return it executed."""
    from nbclient import NotebookClient

    book = nbformat.read(path, as_version=4)
    client = NotebookClient(book, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    return book


def test_examples_folder_has_the_four_notebooks():
    names = {path.name for path in NOTEBOOKS}
    assert {"quickstart.ipynb", "ocean_box.ipynb", "burgers.ipynb", "lorenz.ipynb"} <= names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.name for path in NOTEBOOKS])
def test_notebook_is_committed_with_outputs_cleared(path):
    book = nbformat.read(path, as_version=4)
    for cell in book.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, (
                f"{path.name}: clear the outputs before committing (Kernel > Restart and clear outputs)")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.name for path in NOTEBOOKS])
def test_notebook_executes_without_error_within_the_time_limit(path):
    start = time.perf_counter()
    book = execute(path)  # nbclient raises CellExecutionError on the first failing cell
    elapsed = time.perf_counter() - start
    errors = [output for cell in book.cells if cell.cell_type == "code"
              for output in cell.outputs if output.output_type == "error"]
    assert errors == []
    assert elapsed < TIME_LIMIT_S, f"{path.name} took {elapsed:.0f} s (limit {TIME_LIMIT_S:.0f} s)"
