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
    assert _left_progress(book) == [], f"{path.name}: progress output left in its cells"
    for cell in book.cells:
        assert len(_text(cell).splitlines()) <= 60, f"{path.name}: a cell prints a wall of text:\n{_text(cell)[:500]}"
    check = EXAMPLE_CHECKS.get(path.name)
    if check is not None:
        check([cell for cell in book.cells if cell.cell_type == "code"])


def _text(cell):
    """What a code cell shows as text: its streams and its results' text/plain."""
    parts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            parts.append(output.text)
        elif "data" in output and "application/vnd.jupyter.widget-view+json" not in output.data:
            parts.append(output.data.get("text/plain", ""))
    return "".join(parts)


def _ocean_widget_keeps_the_applied_budget(cells):
    """The last widget advises for the budget the notebook applied (not the new run's default)."""
    import re

    applied = re.search(r"^budget +([0-9.]+) MB +: predicted", "\n".join(_text(c) for c in cells), re.M)
    assert applied, "the ocean notebook no longer prints the budget it applies"
    widget = cells[-1].outputs[-1].data
    assert "application/vnd.jupyter.widget-view+json" in widget
    assert f"budget {applied.group(1)} MB" in widget["text/plain"], widget["text/plain"][:400]


def _burgers_times_after_a_warm_up(cells):
    assert any("(after a warm-up call)" in _text(c) for c in cells)


def _ensemble_gradients_equal_the_local_ones(cells):
    """Both ways of running the members on the cluster give bitwise the notebook's gradients."""
    text = "\n".join(_text(c) for c in cells)
    assert text.count("bitwise equal to the local gradients: True") == 2, text[-1000:]


EXAMPLE_CHECKS = {"ocean_box.ipynb": _ocean_widget_keeps_the_applied_budget,
                  "burgers.ipynb": _burgers_times_after_a_warm_up,
                  "ensemble.ipynb": _ensemble_gradients_equal_the_local_ones}


def _left_progress(book):
    """Stream outputs on stderr and display outputs that still say "nbadjoint: ..." (progress)."""
    left = []
    for cell in book.cells:
        for output in cell.get("outputs", []):
            if output.output_type == "stream" and output.name == "stderr" and "nbadjoint:" in output.text:
                left.append(output.text)
            elif output.output_type == "display_data":
                text = output.get("data", {}).get("text/plain", "")
                if text.startswith("nbadjoint: ") and "profile of" not in text:
                    left.append(text)
    return left


PROGRESS_CELLS = [
    "import numpy as np\n%load_ext nbadjoint",
    "%%adjoint_profile -o prof --repeat 2\n"
    "def step(u):\n    return u + 0.1 * np.sin(u)\n\n"
    "def model(u):\n    for _ in range(3):\n        u = step(u)\n    return np.sum(u * u)\n\n"
    "model(np.linspace(0.0, 1.0, 50))",
    "again = prof.rerun()\nagain.adjoint_time > 0",
]


def test_progress_disappears_and_nothing_is_left_on_stderr():
    from nbclient import NotebookClient

    book = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in PROGRESS_CELLS])
    NotebookClient(book, timeout=120, kernel_name="python3").execute()
    profiled, rerun = book.cells[1], book.cells[2]
    for cell in (profiled, rerun):
        assert [o for o in cell.outputs if o.output_type == "stream"] == []
    assert _left_progress(book) == []
    # the magic's cell: the emptied progress display, then the widget (with its static views)
    kinds = [o.get("data", {}) for o in profiled.outputs]
    assert any("application/vnd.jupyter.widget-view+json" in d for d in kinds)
    assert rerun.outputs[-1]["data"]["text/plain"] == "True"


SAVED_CELLS = [
    "import numpy as np\nimport nbadjoint as nba",
    "def step(u):\n    return u + 0.1 * np.sin(u)\n\n"
    "def model(u):\n    for _ in range(3):\n        u = step(u)\n    return np.sum(u * u)\n\n"
    "prof = nba.profile(model, np.linspace(0.0, 1.0, 50))\nprof.widget()",
]
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def test_a_saved_notebook_shows_the_profile_without_its_widget_state(tmp_path):
    """The widget's output carries the call tree as HTML next to the widget view: saved without
    widget state (JupyterLab's default), nbconvert, and so nbviewer, show that table instead of
    the widget they cannot draw."""
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    book = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in SAVED_CELLS])
    NotebookClient(book, timeout=120, kernel_name="python3", store_widget_state=False).execute()
    path = tmp_path / "saved.ipynb"
    nbformat.write(book, path)
    saved = nbformat.read(path, as_version=4)
    assert "widgets" not in saved.metadata

    (output,) = [o for o in saved.cells[1].outputs if WIDGET_VIEW in o.get("data", {})]
    html = output.data["text/html"]
    assert "nbadjoint profile of model" in html and "<table" in html
    assert "step" in html                       # the call site, a row of the tree
    assert "step" in output.data["text/plain"]

    page, _ = HTMLExporter().from_notebook_node(saved, resources={"metadata": {"name": "saved"}})
    assert "nbadjoint profile of model" in page
    assert f'type="{WIDGET_VIEW}"' not in page  # no widget view left to fail


def test_a_notebook_saved_with_widget_state_keeps_the_widget_and_the_table(tmp_path):
    from nbclient import NotebookClient

    book = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in SAVED_CELLS])
    NotebookClient(book, timeout=120, kernel_name="python3", store_widget_state=True).execute()
    path = tmp_path / "saved.ipynb"
    nbformat.write(book, path)
    saved = nbformat.read(path, as_version=4)
    (output,) = [o for o in saved.cells[1].outputs if WIDGET_VIEW in o.get("data", {})]
    state = saved.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    assert output.data[WIDGET_VIEW]["model_id"] in state
    assert "nbadjoint profile of model" in output.data["text/html"]
    # with the state, nbconvert draws the widget (the view the first test finds absent)
    from nbconvert import HTMLExporter

    page, _ = HTMLExporter().from_notebook_node(saved, resources={"metadata": {"name": "saved"}})
    assert f'type="{WIDGET_VIEW}"' in page
