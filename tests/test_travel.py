"""Gradients that travel: nba.grad / value_and_grad / vjp pullbacks and profiles pickle (pickle and
cloudpickle), for a module model and a notebook-cell model, and run on spawned worker processes
(a ProcessPoolExecutor, a dask LocalCluster) that do not have the cell's source, giving bitwise the
gradient computed here; nba.map_grad gathers them in order."""
import importlib
import inspect
import linecache
import multiprocessing
import pickle
import sys
import textwrap
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import nbadjoint as nba
from nbadjoint import travel

cloudpickle = pytest.importorskip("cloudpickle")

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"

CELL = '''\
import numpy as np
import nbadjoint as nba

DT = 0.05


def make_drag(c):
    def drag(u):
        return -c * u * np.abs(u)
    return drag


drag = make_drag(0.3)


def step(u, dt):
    return u + dt * (np.sin(u) + drag(u))


@nba.adjoint
def model(u0, target, n_steps=4):
    """A notebook-cell model."""
    u = u0
    for _ in range(n_steps):
        u = step(u, DT)
    return np.sum((u - target) ** 2)
'''
CELL_FILE = "/tmp/ipykernel_40404/1234567890.py"     # where ipykernel 6+ says a cell's code comes from


def run_cell(source=CELL, filename=CELL_FILE):
    """Run ``source`` the way IPython runs a cell: its text in linecache, its code in ``__main__``-named globals."""
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    namespace = {"__name__": "__main__"}
    exec(compile(source, filename, "exec"), namespace)
    return namespace


def forget_cell(filename=CELL_FILE):
    """What another process is like: the cell's text is not there, nothing rebuilt yet."""
    linecache.cache.pop(filename, None)
    travel._REBUILT.clear()


@pytest.fixture(scope="module")
def cell():
    return run_cell()


@pytest.fixture(scope="module")
def burgers():
    if str(EXAMPLES) not in sys.path:
        sys.path.insert(0, str(EXAMPLES))
    return importlib.import_module("burgers")


def cell_args(seed):
    rng = np.random.default_rng(seed)
    return rng.normal(size=8), rng.normal(size=8)


def burgers_args(burgers, shift):
    u0, u_obs, _, dt, dx, nu = burgers.default_args(n_cells=64, n_steps=5)
    return (u0 + 0.01 * shift, u_obs, 5, dt, dx, nu)


def bitwise_equal(a, b):
    if isinstance(a, tuple):
        return isinstance(b, tuple) and len(a) == len(b) and all(bitwise_equal(x, y) for x, y in zip(a, b))
    if a is None or b is None:
        return a is b
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


# -- in one process -----------------------------------------------------------------------------------
def test_the_cell_model_gradient_matches_finite_differences(cell):
    u0, target = cell_args(0)
    g = nba.grad(cell["model"])(u0, target)
    eps = 1e-6
    for i in (0, 3, 7):
        e = np.zeros_like(u0)
        e[i] = eps
        fd = (cell["model"](u0 + e, target) - cell["model"](u0 - e, target)) / (2 * eps)
        assert abs(g[i] - fd) < 1e-6 * max(1.0, abs(fd))


@pytest.mark.parametrize("dumps", [pickle.dumps, cloudpickle.dumps], ids=["pickle", "cloudpickle"])
def test_cell_model_transforms_round_trip_without_the_cell_source(cell, dumps):
    u0, target = cell_args(1)
    g = nba.grad(cell["model"], argnums=(0, 1))
    vg = nba.value_and_grad(cell["model"])
    out, pullback = nba.vjp(cell["model"], u0, target)
    expected = (g(u0, target), vg(u0, target), pullback(1.5))
    blobs = [dumps(g), dumps(vg), dumps(nba.vjp(cell["model"], u0, target)[1])]
    forget_cell()
    try:
        g2, vg2, pullback2 = [pickle.loads(b) for b in blobs]
        assert bitwise_equal(g2(u0, target), expected[0])
        assert bitwise_equal(vg2(u0, target), expected[1])
        assert bitwise_equal(pullback2(1.5), expected[2])
        assert g2.__name__ == "model" and g2.__doc__ == "A notebook-cell model."
        assert str(inspect.signature(g2)) == "(u0, target, n_steps=4)"
        # the rebuilt function reads its lines from the cell's text, which travelled with it
        assert linecache.getlines(CELL_FILE) == CELL.splitlines(keepends=True)
        assert nba.call_sites(g2.__wrapped__) == nba.call_sites(cell["model"])
        # rebuilt once per process: a second copy reuses the function (and its compiled adjoint)
        assert pickle.loads(blobs[0]).__wrapped__ is g2.__wrapped__
    finally:
        run_cell()


@pytest.mark.parametrize("dumps", [pickle.dumps, cloudpickle.dumps], ids=["pickle", "cloudpickle"])
def test_module_model_pickles_by_reference(burgers, dumps):
    args = burgers_args(burgers, 0)
    g = nba.grad(burgers.burgers, argnums=0)
    blob = dumps(g)
    assert b"burgers_step" not in blob            # by reference: no source travels
    g2 = pickle.loads(blob)
    assert g2.__wrapped__ is burgers.burgers
    assert bitwise_equal(g2(*args), g(*args))
    out, pullback = nba.vjp(burgers.burgers, *args)
    assert bitwise_equal(pickle.loads(dumps(pullback))(1.0), pullback(1.0))


def test_copies_of_a_gradient_function_are_itself_as_for_a_function(cell):
    import copy

    g = nba.grad(cell["model"])
    assert copy.copy(g) is g and copy.deepcopy(g) is g
    out, pullback = nba.vjp(cell["model"], *cell_args(4))
    assert copy.copy(pullback) is pullback and copy.deepcopy(pullback) is pullback


def test_a_changed_global_is_a_different_pickle(cell):
    u0, target = cell_args(2)
    g = nba.grad(cell["model"])
    before = pickle.dumps(g)
    cell["DT"] = 0.1
    try:
        after = pickle.dumps(g)
        expected = g(u0, target)
    finally:
        cell["DT"] = 0.05
    forget_cell()
    try:
        pickle.loads(before)(u0, target)
        assert bitwise_equal(pickle.loads(after)(u0, target), expected)
    finally:
        run_cell()


def test_a_module_missing_where_it_is_unpickled_is_named(tmp_path, monkeypatch):
    (tmp_path / "travel_only_here.py").write_text(textwrap.dedent('''\
        import numpy as np

        def cost(x):
            return np.sum(np.sin(x) ** 2)
        '''))
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("travel_only_here")
    blob = pickle.dumps(nba.grad(module.cost))
    monkeypatch.delitem(sys.modules, "travel_only_here")
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(tmp_path)])
    importlib.invalidate_caches()
    with pytest.raises(ModuleNotFoundError, match=r"cost\(\).*module 'travel_only_here'") as info:
        pickle.loads(blob)
    assert info.value.name == "travel_only_here"


def test_a_module_a_cell_model_uses_missing_where_it_is_unpickled_is_named(tmp_path, monkeypatch):
    (tmp_path / "travel_physics.py").write_text("import numpy as np\n\ndef energy(x):\n    return np.sum(x * x)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    filename = "<ipython-input-7-0123456789ab>"
    namespace = run_cell("import travel_physics\n\ndef model(x):\n    return travel_physics.energy(2.0 * x)\n",
                         filename)
    blob = pickle.dumps(nba.grad(namespace["model"]))
    monkeypatch.delitem(sys.modules, "travel_physics")
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(tmp_path)])
    importlib.invalidate_caches()
    forget_cell(filename)
    with pytest.raises(ModuleNotFoundError, match=r"model\(\).*module 'travel_physics'"):
        pickle.loads(blob)


def test_profiles_pickle_and_a_cell_model_profile_reruns(cell):
    u0, target = cell_args(3)
    prof = nba.profile(cell["model"], u0, target)
    for dumps in (pickle.dumps, cloudpickle.dumps):
        copy = pickle.loads(dumps(prof))
        assert copy.data == prof.data
        assert copy.report() == prof.report()          # shown where it is gathered as where it was measured
        assert pickle.loads(pickle.dumps(prof.data)) == prof.data
    blob = pickle.dumps(prof)
    forget_cell()
    try:
        again = pickle.loads(blob).rerun()
        assert bitwise_equal(again.grad, prof.grad)
    finally:
        run_cell()


def test_map_grad_in_process_keeps_the_order_and_reports_progress(cell):
    inputs = [cell_args(k) for k in range(4)]
    seen = []
    out = nba.map_grad(cell["model"], inputs, progress=lambda done, total: seen.append((done, total)))
    assert all(bitwise_equal(o, nba.grad(cell["model"])(*a)) for o, a in zip(out, inputs))
    assert seen == [(1, 4), (2, 4), (3, 4), (4, 4)]
    single = nba.map_grad(lambda_free_square, [np.arange(3.0), np.ones(2)])
    assert bitwise_equal(single[0], 2 * np.arange(3.0)) and bitwise_equal(single[1], 2 * np.ones(2))


def lambda_free_square(x):
    return np.sum(x * x)


# -- on other processes ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def pool(burgers):
    with ProcessPoolExecutor(max_workers=2, mp_context=multiprocessing.get_context("spawn")) as executor:
        yield executor


def test_spawned_workers_give_bitwise_the_local_gradients(pool, cell, burgers):
    assert pool.submit(linecache.getlines, CELL_FILE).result() == []      # the workers have no cell source
    inputs = [cell_args(k) for k in range(4)]
    local = [nba.grad(cell["model"], argnums=(0, 1))(*a) for a in inputs]
    remote = nba.map_grad(cell["model"], inputs, argnums=(0, 1), executor=pool)
    assert all(bitwise_equal(r, l) for r, l in zip(remote, local))
    b_inputs = [burgers_args(burgers, k) for k in range(3)]
    b_local = [nba.grad(burgers.burgers)(*a) for a in b_inputs]
    assert all(bitwise_equal(r, l) for r, l in zip(nba.map_grad(burgers.burgers, b_inputs, executor=pool), b_local))


def test_an_error_on_a_worker_reaches_the_caller(pool, cell):
    good = cell_args(0)
    bad = (np.ones(3), np.ones(4))               # shapes that do not broadcast
    with pytest.raises(ValueError, match="broadcast") as info:
        nba.map_grad(cell["model"], [good, bad], executor=pool)
    # the worker, which had no cell source but the one that travelled, names the user's line
    notes = "\n".join(getattr(info.value, "__notes__", []))
    assert "model() at notebook cell, line 26" in notes and "return np.sum((u - target) ** 2)" in notes, notes


def test_a_dask_local_cluster_gives_bitwise_the_local_gradients(cell, burgers):
    distributed = pytest.importorskip("distributed", reason="dask[distributed] is not installed")
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None,
                                  silence_logs=40) as cluster, distributed.Client(cluster) as client:
        inputs = [cell_args(k) for k in range(4)]
        g = nba.grad(cell["model"])
        futures = client.map(lambda args: g(*args), inputs)       # the way users write it
        assert all(bitwise_equal(r, g(*a)) for r, a in zip(client.gather(futures), inputs))
        b_inputs = [burgers_args(burgers, k) for k in range(2)]
        remote = nba.map_grad(burgers.burgers, b_inputs, executor=client)
        assert all(bitwise_equal(r, nba.grad(burgers.burgers)(*a)) for r, a in zip(remote, b_inputs))


def test_map_grad_refuses_an_executor_without_submit_before_running(burgers):
    with pytest.raises(TypeError, match=r"executor must have a submit\(fn, \*args\) method.*got object"):
        nba.map_grad(burgers.misfit, [(np.ones(3), np.zeros(3))], executor=object())
