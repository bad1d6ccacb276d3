"""The call-tree widget: a Profile's call tree with checkpoint toggles, predictions and reruns.

The widget holds a Profile (``w.profile``, always the latest measured one) and mirrors it into a
few synced traitlets that the front end (``static/widget.js``) renders:

- ``profile_data``: the profile's data (``profile.data.to_dict()``, with its ``ratio``) without
  the generated sources and the dynamic call tree
- ``placement``: the placement being edited (site id -> checkpointed, and loop id -> snapshots:
  an int, ``{"ram": S, "disk": D}`` or None for every iteration kept); set it from Python or the UI
  (``set_snapshots(loop_id, value)``; the front end's loop rows send ``{"type": "snapshots",
  "loop", "text"}``, the text read as "20", "10+5" (5 more on disk) or "all")
- ``prediction``: the cost model's ``{"time", "peak_bytes", "recomputed"}`` for ``placement`` (no
  run; ``recomputed``: loop id -> iterations run again)
- ``suggestion``: the advisor's answer for ``budget``; ``pareto``: the time / peak Pareto front
  predicted from the latest run, each point with ``measured_in``, the runs of the history that
  measured its placement (the chart joins the prediction to what was measured, never hides it)
- ``advising``: True while the suggestion and the front of a large tree (more than
  `ADVICE_LATER_SITES` call sites) wait for the first view, which asks for them; ``advise()``
  computes them from Python
- ``history``: the last runs, each with its placement and predicted and measured figures; the
  cost model's accuracy comes from ``profile_data["model_checks"]`` (the profile's `ModelCheck`s,
  every rerun that led to it, made here or not)
- ``selected``: the node whose code the code panel shows; ``line_profile``: its line profile
- ``live``: False for a profile that cannot run (read from JSON): the front end offers no rerun
- ``kernel_id``: the id of the kernel this widget lives in ("" outside a Jupyter kernel). A view
  drawn later from the widget state saved with the notebook compares it with the notebook's
  kernel: when they differ, Python is gone, and the view says so and offers nothing to run

The generated code of a function is not synced: the front end asks for the selected node's code
with a ``{"type": "code", "node": id}`` message and Python answers with one
``{"type": "code", "node", "function", "fwd", "bwd"}`` message (``code`` in Python).

Toggling a checkpoint only re-predicts; ``rerun()`` measures; ``apply_suggestions()`` takes the
advisor's placement; ``set_budget("200MB")`` asks the advisor again (a budget it cannot read is
shown in ``error`` until a valid one replaces it). Every action the UI offers is a plain method, so it works from code too.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import pathlib

import anywidget
import traitlets

from nbadjoint.ids import ROOT_ID     # the root node's id in profile_data["tree"] (no call site)
from nbadjoint.profiling.units import format_bytes, parse_budget, parse_placement

__all__ = ["CallTreeWidget", "parse_budget", "HISTORY_LENGTH", "ROOT_ID", "BUDGET_ERROR"]

_STATIC = pathlib.Path(__file__).parent / "static"

HISTORY_LENGTH = 10
"""How many runs the widget's history keeps (the oldest are dropped first)."""

BUDGET_ERROR = "Budget: "
"""How ``error`` starts when a budget could not be read (the front end marks the budget box)."""

ADVICE_LATER_SITES = 60
"""Beyond this many call sites the advisor's suggestion and the Pareto front (seconds of search
on large trees) are computed once the widget is on screen: the front end asks for them
(``advising`` is True until then), and so does every Python method that needs them."""


def _kernel_id():
    """The id of the Jupyter kernel running this code ("" outside one): the server names a
    kernel's connection file ``kernel-<id>.json``, and front ends know the kernel by that id."""
    try:
        from ipykernel.connect import get_connection_file

        name = pathlib.Path(get_connection_file()).stem
    except Exception:                           # not in a kernel (a script, a test, a terminal)
        return ""
    return name[len("kernel-"):] if name.startswith("kernel-") else ""


def _plain(value):
    """Convert profiler results (dataclasses, named tuples, NumPy scalars) to JSON-ready values.

    Non-finite floats become None: JSON has no NaN or infinity and the front end would reject them.
    """
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return number if math.isfinite(number) else None
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _plain({f.name: getattr(value, f.name) for f in dataclasses.fields(value)})
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        return _plain(value._asdict())
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if hasattr(value, "to_dict"):
        return _plain(value.to_dict())
    if hasattr(value, "__dict__"):
        return _plain({k: v for k, v in vars(value).items() if not k.startswith("_")})
    return str(value)


def _describe(exc):
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _plain_error(exc):
    """The message of an error written for the user (nbadjoint's own errors and ValueErrors name
    the problem and what to do), else the message with the kind of error (an error raised in the
    user's code, e.g. FloatingPointError)."""
    from nbadjoint.errors import TransformError
    from nbadjoint.runtime.tape import AliasError

    text = str(exc).strip()
    return text if isinstance(exc, (ValueError, TransformError, AliasError)) and text else _describe(exc)


def _snapshots_value(value):
    """A loop's placement value from Python or from the front end's text: None (every iteration
    kept) for None, "" or "all"; an int S; ``{"ram": S, "disk": D}`` for a dict or "S+D"."""
    from nbadjoint.transform.loops import read_schedule

    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("", "all"):
            return None
        ram, plus, disk = text.partition("+")
        try:
            value = {"ram": int(ram), "disk": int(disk)} if plus else int(ram)
        except ValueError:
            raise ValueError(f"{value!r} is not a number of snapshots: write 20, 10+5 (5 more on "
                             f"disk) or all") from None
    schedule = read_schedule(value, "this loop")
    if schedule is None:
        return None
    return schedule[0] if not schedule[1] else {"ram": schedule[0], "disk": schedule[1]}


def _figures(obj):
    """``{"time", "peak_bytes"}`` of a prediction, a suggestion or a measured Profile."""
    time = getattr(obj, "time", None)
    if time is None:
        time = getattr(obj, "adjoint_time", None)
    return _plain({"time": time, "peak_bytes": getattr(obj, "peak_bytes", None)})


class CallTreeWidget(anywidget.AnyWidget):
    """Interactive call tree of an adjoint Profile: toggle checkpoints, see predictions, rerun.

    ``CallTreeWidget(profile, budget=None, method="auto")``; ``budget`` in bytes or "200MB"
    (default: the profile's budget, the peak of the all-checkpointed placement).
    """

    _esm = _STATIC / "widget.js"
    _css = _STATIC / "widget.css"

    profile_data = traitlets.Dict().tag(sync=True)
    placement = traitlets.Dict().tag(sync=True)
    prediction = traitlets.Dict().tag(sync=True)
    suggestion = traitlets.Dict().tag(sync=True)
    budget = traitlets.Int(0).tag(sync=True)
    method = traitlets.Unicode("auto").tag(sync=True)
    history = traitlets.List().tag(sync=True)
    selected = traitlets.Unicode(ROOT_ID).tag(sync=True)
    line_profile = traitlets.Unicode("").tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    busy = traitlets.Bool(False).tag(sync=True)
    pareto = traitlets.List().tag(sync=True)
    advising = traitlets.Bool(False).tag(sync=True)
    live = traitlets.Bool(True).tag(sync=True)
    kernel_id = traitlets.Unicode("").tag(sync=True)

    _ready = False

    def __init__(self, profile, budget=None, method="auto", **kwargs):
        super().__init__(**kwargs)
        self.profile = profile
        self._runs = 0
        self._ready = False
        later = self._advice_later(profile)
        data = self._synced_data(profile)
        self.profile_data = data
        self.live = self._is_live(profile)
        self.kernel_id = _kernel_id()
        self.method = method
        self.budget = parse_budget(budget) if budget is not None else int(data["budget_bytes"])
        self.placement = {**data["placement"], **self._loops_as_run(data)}
        if later:
            self.advising = True
        else:
            self._update_suggestion()
            self._update_pareto()
        self._update_prediction()
        self.history = [self._history_entry(profile, self.prediction)]
        self._ready = True
        self.on_msg(self._handle_message)

    # -- Python API ---------------------------------------------------------------------------

    @property
    def code(self):
        """The generated adjoint of the selected node's function: ``{"node", "function", "fwd",
        "bwd"}`` (what the front end receives when it asks for the selected node's code)."""
        return self._code_of(self.selected)

    @property
    def site_ids(self):
        """Ids of the profile's call sites, in the profile's order."""
        return [site["id"] for site in self.profile_data["sites"]]

    def toggle(self, site_id):
        """Flip one site between checkpointed and split; returns the new value."""
        if site_id not in self.placement:
            raise ValueError(f"unknown call site {site_id!r}; the profile's sites are: "
                             f"{', '.join(self.site_ids) or '(none)'}")
        placement = dict(self.placement)
        placement[site_id] = not placement[site_id]
        self.placement = placement
        return placement[site_id]

    @property
    def loop_ids(self):
        """Ids of the profile's time loops (``caller:lineno:for``), in the profile's order."""
        return [loop["id"] for loop in self.profile_data.get("loops", [])]

    def set_snapshots(self, loop_id, value):
        """Give a loop snapshots: an int S, ``{"ram": S, "disk": D}``, a text "20", "10+5" (5 more
        on disk) or "all", or None (every iteration kept); the prediction follows at once.  A value
        that cannot be read is shown in ``error`` and raised."""
        if loop_id not in self.loop_ids:
            raise ValueError(f"unknown loop {loop_id!r}; the profile's loops are: "
                             f"{', '.join(self.loop_ids) or '(none)'}")
        try:
            value = _snapshots_value(value)
            self.placement = {**self.placement, loop_id: value}
        except (ValueError, TypeError, traitlets.TraitError) as exc:
            self.error = ""
            self.error = f"Snapshots of {loop_id}: {exc}"
            raise ValueError(str(exc)) from None
        if self.error.startswith("Snapshots of"):
            self.error = ""
        return value

    def set_budget(self, budget):
        """Set the advisor's memory budget from bytes or a string like "200MB" or "1.5 GiB".

        A budget that cannot be read is shown in the widget (``error``, starting "Budget:") and
        raised; a valid one clears that error.
        """
        try:
            value = parse_budget(budget)
        except (ValueError, TypeError) as exc:
            # cleared first, so that the front end hears the answer even when the text is the same
            self.error = ""
            self.error = f"{BUDGET_ERROR}{exc}; the budget stays {format_bytes(self.budget)}."
            raise
        if self.error.startswith((BUDGET_ERROR, "No suggestion")):
            self.error = ""
        self.budget = value
        return value

    def advise(self):
        """Compute the suggestion and the Pareto front if they were left for later (large trees)."""
        if not self.advising:
            return self.suggestion
        self.busy = True
        try:
            self._update_suggestion()
            self._update_pareto()
        finally:
            self.advising = False
            self.busy = False
        return self.suggestion

    def apply_suggestions(self):
        """Set the placement to the advisor's suggestion for the current budget."""
        self.advise()
        if not self.suggestion:
            raise RuntimeError(f"there is no suggestion to apply: {self.error or 'the advisor has not answered'}")
        self.placement = dict(self.suggestion["placement"])
        return dict(self.placement)

    def rerun(self):
        """Measure the current placement; the new Profile replaces ``profile``. Returns it.

        A failure is shown in the widget (``error``) and raised.
        """
        return self._rerun()

    def show_line_profile(self, site_id=None):
        """Fill ``line_profile`` with the line profile of the selected node's callee."""
        if site_id is not None:
            self._callee(site_id)               # a ValueError naming the nodes for an unknown one
            self.selected = site_id
        function = self._callee(self.selected)
        self.busy = True
        try:
            self.line_profile = self._free_note(function) + str(self.profile.line_profile(function))
        except Exception as exc:
            self.error = f"Line profile of {function} failed: {_plain_error(exc)}"
            raise
        finally:
            self.busy = False
        return self.line_profile

    def _free_note(self, function):
        """A first line for the line profile of a function whose every call is a free checkpoint
        (its sweeps do not run, so every line shows 0 s)."""
        sites = [s for s in self.profile_data.get("sites", []) if s.get("callee") == function]
        measured = self.profile_data.get("placement", {})
        if sites and all(measured.get(s["id"], True) and (s.get("t_saved") or 0) > 0 for s in sites):
            return (f"Every call of {function} was a free checkpoint in the measured run: it tapes "
                    f"nothing, so it is not recomputed and its lines show no time. Split a call of it "
                    f"and rerun to profile its lines.\n\n")
        return ""

    # -- synced state -------------------------------------------------------------------------

    @traitlets.validate("placement")
    def _check_placement(self, proposal):
        known = self.profile_data.get("sites", [])
        defaults = {site["id"]: bool(site.get("default_checkpointed", True)) for site in known}
        loops = {}
        given = dict(proposal["value"])
        for loop_id in [k for k in given if k in self.loop_ids]:
            try:
                loops[loop_id] = _snapshots_value(given.pop(loop_id))
            except (TypeError, ValueError) as exc:
                raise traitlets.TraitError(f"{loop_id}: {exc}") from None
        loops = self._without_defaults(loops)
        proposal = {"value": given}
        unknown = sorted(set(proposal["value"]) - set(defaults))
        if unknown:
            raise traitlets.TraitError(
                f"unknown call site(s) {', '.join(map(repr, unknown))}; "
                f"the profile's sites are: {', '.join(defaults) or '(none)'}"
            )
        try:
            defaults.update(parse_placement(proposal["value"]))
        except (TypeError, ValueError) as exc:
            raise traitlets.TraitError(str(exc)) from None
        return {**defaults, **loops}

    @staticmethod
    def _loops_as_run(data):
        """Loop id -> its placement value as the profile ran it (None: every iteration kept), for
        the loops that did not run as their default (a snapshots comment, else every iteration)."""
        ran = data.get("loop_placement") or {}
        out = {}
        for loop in data.get("loops", []):
            value = ran.get(loop["id"])
            value = None if value is None else \
                int(value[0]) if not value[1] else {"ram": int(value[0]), "disk": int(value[1])}
            if value != _snapshots_value(loop.get("default")):
                out[loop["id"]] = value
        return out

    def _without_defaults(self, placement):
        """``placement`` without the loop entries that say what the loop's default says."""
        defaults = {loop["id"]: _snapshots_value(loop.get("default"))
                    for loop in self.profile_data.get("loops", [])}
        return {k: v for k, v in placement.items()
                if k not in defaults or _snapshots_value(v) != defaults[k]}

    @traitlets.observe("placement")
    def _on_placement(self, change):
        if self._ready:
            self._update_prediction()

    @traitlets.observe("budget")
    def _on_budget(self, change):
        if self._ready:
            self._update_suggestion()

    @traitlets.validate("selected")
    def _check_selected(self, proposal):
        if proposal["value"] != ROOT_ID:
            try:
                self._callee(proposal["value"])
            except ValueError as exc:
                raise traitlets.TraitError(str(exc)) from None
        return proposal["value"]

    @traitlets.observe("selected")
    def _on_selected(self, change):
        self.line_profile = ""

    def _update_prediction(self):
        try:
            predicted = self.profile.predict(dict(self.placement))
            figures = _figures(predicted)
            if getattr(predicted, "recomputed", None):
                figures["recomputed"] = _plain(dict(predicted.recomputed))
            self.prediction = figures
        except Exception as exc:
            self.prediction = {}
            self.error = f"Prediction failed: {_plain_error(exc)}"

    @staticmethod
    def _synced_data(profile):
        """The profile's data for the front end, with its ratio: the generated sources (sent one
        function at a time, when asked for) and the dynamic call tree (not drawn) stay in Python,
        which halves what a 500-site profile sends."""
        data = profile.data.to_dict()
        data.pop("sources", None)
        data.pop("call_tree", None)
        data["ratio"] = profile.data.ratio
        # the cost model's tests so far: each rerun that led here, with what was predicted for it
        data["model_checks"] = [{"predicted": _figures(c.predicted), "measured": _figures(c.measured)}
                                for c in getattr(profile, "model_checks", None) or []]
        return _plain(data)

    @staticmethod
    def _is_live(profile):
        """Whether the profile can rerun and line-profile (a profile read from JSON cannot)."""
        return getattr(profile, "session", True) is not None

    @staticmethod
    def _advice_later(profile):
        sites = getattr(profile, "sites", None)
        return sites is not None and len(sites) > ADVICE_LATER_SITES

    def _update_pareto(self):
        pareto = getattr(self.profile, "pareto", None)
        self._front_placements = []
        if pareto is None:
            self.pareto = []
            return
        try:
            front = pareto()
            self._front_placements = [None if getattr(p, "placement", None) is None else _plain(dict(p.placement))
                                      for p in front]
            self.pareto = self._with_runs(_plain([{"time": p.time, "peak_bytes": p.peak_bytes} for p in front]))
        except Exception as exc:
            self.pareto = []
            self.error = f"Pareto front failed: {_plain_error(exc)}"

    def _with_runs(self, front):
        """The front's points, each with ``measured_in``: the runs of the history that measured its
        placement (the front is predicted from the latest run; an earlier run may have measured
        one of its placements otherwise, and the chart shows both)."""
        placements = getattr(self, "_front_placements", [])
        out = []
        for index, point in enumerate(front):
            point = {k: v for k, v in point.items() if k != "measured_in"}
            placement = placements[index] if index < len(placements) else None
            runs = [run["run"] for run in self.history if placement is not None and run["placement"] == placement]
            if runs:
                point["measured_in"] = runs
            out.append(point)
        return out

    @traitlets.observe("history")
    def _on_history(self, change):
        if self.pareto:
            self.pareto = self._with_runs(self.pareto)

    def _update_suggestion(self):
        try:
            found = self.profile.suggest(budget=self.budget, method=self.method)
        except Exception as exc:
            self.suggestion = {}
            self.error = f"No suggestion for a budget of {format_bytes(self.budget)}: {_plain_error(exc)}"
            return
        suggestion = _figures(found)
        suggestion.update(
            placement=_plain(self._without_defaults(dict(found.placement))),
            method=str(found.method),
            ranking=_plain(list(getattr(found, "ranking", []) or [])),
            budget_bytes=self.budget,
        )
        if self.error.startswith("No suggestion"):
            self.error = ""
        self.suggestion = suggestion

    def _callee(self, node_id):
        if node_id == ROOT_ID:
            return self.profile_data["root"]
        for site in self.profile_data["sites"]:
            if site["id"] == node_id:
                return site["callee"]
        raise ValueError(f"unknown node {node_id!r}: select '{ROOT_ID}' or one of the call sites {self.site_ids}")

    def _code_of(self, node_id):
        """The generated code of a node's function (ValueError for a node the tree does not have)."""
        function = self._callee(node_id)
        sources = (getattr(self.profile, "sources", None) or {}).get(function) or {}
        return {"node": node_id, "function": function,
                "fwd": sources.get("fwd", ""), "bwd": sources.get("bwd", "")}

    def _send_code(self, node_id):
        """Answer the front end's request for a node's code (an unknown node: the error is shown
        and the answer holds no code)."""
        try:
            code = self._code_of(node_id)
        except ValueError as exc:
            self.error = str(exc)
            code = {"node": node_id, "function": None, "fwd": "", "bwd": ""}
        self.send({"type": "code", **_plain(code)})

    def _history_entry(self, profile, predicted):
        self._runs += 1
        placement = {**profile.placement, **self._loops_as_run(self._synced_data(profile))}
        placement = {k: v for k, v in placement.items() if v is not None or k in self.loop_ids}
        return {"run": self._runs, "placement": _plain(placement),
                "predicted": dict(predicted), "measured": _figures(profile)}

    def _rerun(self, raise_errors=True):
        placement = dict(self.placement)
        predicted = dict(self.prediction)
        self.busy = True
        self.error = ""
        try:
            # the widget shows "running…" itself: no progress output from a comm message
            options = getattr(getattr(self.profile, "session", None), "options", {})
            quiet = {"progress": None} if "progress" in options else {}
            measured = self.profile.rerun(placement, **quiet)
        except Exception as exc:
            self.error = f"Rerun failed: {_plain_error(exc)}"
            if raise_errors:
                raise
            return None
        finally:
            self.busy = False
        self.profile = measured
        self.profile_data = self._synced_data(measured)
        self.live = self._is_live(measured)
        if self.selected != ROOT_ID and self.selected not in self.site_ids:
            self.selected = ROOT_ID             # the edited code no longer has that call site
        self.advising = False
        self._update_prediction()
        self._update_suggestion()
        self._update_pareto()
        self.line_profile = ""
        self.history = (self.history + [self._history_entry(measured, predicted)])[-HISTORY_LENGTH:]
        return measured

    def _handle_message(self, _widget, content, _buffers):
        kind = content.get("type") if isinstance(content, dict) else None
        try:
            if kind == "apply":
                self.apply_suggestions()
            elif kind == "rerun":
                self._rerun(raise_errors=False)
            elif kind == "line_profile":
                self.show_line_profile(content.get("node"))
            elif kind == "budget":
                self.set_budget(content.get("text", ""))
            elif kind == "snapshots":
                self.set_snapshots(content.get("loop"), content.get("text", ""))
            elif kind == "advise":
                self.advise()
            elif kind == "code":
                self._send_code(content.get("node", self.selected))
            else:
                self.error = f"The widget received an unknown request {content!r}."
        except Exception as exc:
            if not self.error:
                self.error = _describe(exc)

    def __repr__(self):
        root = self.profile_data.get("root", "?")
        return f"<CallTreeWidget of {root}: {len(self.profile_data.get('sites', []))} call sites>"

    def _repr_mimebundle_(self, **kwargs):
        """The widget view, with the Profile's HTML table and text report for front ends without widgets."""
        bundle = super()._repr_mimebundle_(**kwargs)
        if bundle is None:
            return None
        data, metadata = bundle
        data = dict(data)
        data.update(self._static_view())
        return data, metadata

    def _static_view(self):
        """text/html and text/plain of the profile: what a saved notebook shows without a kernel.

        While the advice is left for later, the static views are made without it (the search is
        what takes seconds); otherwise with the widget's budget and method."""
        views = {}
        if hasattr(self.profile, "_model"):
            from nbadjoint.profiling.report import html_report, text_report

            options = {"budget": self.budget, "method": self.method, "advice": not self.advising}
            views["text/html"] = html_report(self.profile, **options)
            views["text/plain"] = text_report(self.profile, **options)
            return views
        html = getattr(self.profile, "_repr_html_", None)
        if html is not None:
            views["text/html"] = html()
        report = getattr(self.profile, "report", None)
        if report is not None:
            views["text/plain"] = report(budget=self.budget, method=self.method)
        return views
