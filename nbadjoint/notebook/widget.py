"""The call-tree widget: a Profile's call tree with checkpoint toggles, predictions and reruns.

The widget holds a Profile (``w.profile``, always the latest measured one) and mirrors it into a
few synced traitlets that the front end (``static/widget.js``) renders:

- ``profile_data``: ``profile.to_dict()`` (call tree, per-site records, Pareto front, sources)
- ``placement``: the placement being edited (site id -> checkpointed); set it from Python or the UI
- ``prediction``: the cost model's ``{"time", "peak_bytes"}`` for ``placement`` (no run)
- ``suggestion``: the advisor's answer for ``budget``
- ``history``: the last runs, each with its placement and predicted and measured figures

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

from nbadjoint.profiling.units import parse_budget as _parse_budget
from nbadjoint.profiling.units import parse_placement

__all__ = ["CallTreeWidget", "parse_budget", "HISTORY_LENGTH", "ROOT_ID", "BUDGET_ERROR"]

_STATIC = pathlib.Path(__file__).parent / "static"

HISTORY_LENGTH = 10
"""How many runs the widget's history keeps (the oldest are dropped first)."""

ROOT_ID = "<root>"
"""The id of the root node in ``profile_data["tree"]`` (the root is not a call site)."""

BUDGET_ERROR = "Budget: "
"""How ``error`` starts when a budget could not be read (the front end marks the budget box)."""


def parse_budget(budget):
    """Return a memory budget in bytes from an int or a string like ``"200MB"`` or ``"1.5 GiB"``.

    kB/MB/GB are powers of 1000, KiB/MiB/GiB powers of 1024 (as everywhere in nbadjoint); the
    reader is `nbadjoint.profiling.units.parse_budget`, with a ValueError for every bad input.
    """
    try:
        return _parse_budget(budget)
    except TypeError as exc:
        raise ValueError(str(exc)) from None


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
    code = traitlets.Dict().tag(sync=True)
    line_profile = traitlets.Unicode("").tag(sync=True)
    error = traitlets.Unicode("").tag(sync=True)
    busy = traitlets.Bool(False).tag(sync=True)

    _ready = False

    def __init__(self, profile, budget=None, method="auto", **kwargs):
        super().__init__(**kwargs)
        self.profile = profile
        self._runs = 0
        self._ready = False
        data = _plain(profile.to_dict())
        self.profile_data = data
        self.method = method
        self.budget = parse_budget(budget) if budget is not None else int(data["budget_bytes"])
        self.placement = dict(data["placement"])
        self._update_suggestion()
        self._update_prediction()
        self._show_code(self.selected)
        self.history = [self._history_entry(profile, self.prediction)]
        self._ready = True
        self.on_msg(self._handle_message)

    # -- Python API ---------------------------------------------------------------------------

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

    def set_budget(self, budget):
        """Set the advisor's memory budget from bytes or a string like "200MB" or "1.5 GiB".

        A budget that cannot be read is shown in the widget (``error``, starting "Budget:") and
        raised; a valid one clears that error.
        """
        try:
            value = parse_budget(budget)
        except ValueError as exc:
            self.error = f"{BUDGET_ERROR}{exc}"
            raise
        if self.error.startswith((BUDGET_ERROR, "No suggestion")):
            self.error = ""
        self.budget = value
        return value

    def apply_suggestions(self):
        """Set the placement to the advisor's suggestion for the current budget."""
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
            self.selected = site_id
        function = self._callee(self.selected)
        self.busy = True
        try:
            self.line_profile = str(self.profile.line_profile(function))
        except Exception as exc:
            self.error = f"Line profile of {function} failed: {_describe(exc)}"
            raise
        finally:
            self.busy = False
        return self.line_profile

    # -- synced state -------------------------------------------------------------------------

    @traitlets.validate("placement")
    def _check_placement(self, proposal):
        known = self.profile_data.get("sites", [])
        defaults = {site["id"]: bool(site.get("default_checkpointed", True)) for site in known}
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
        return defaults

    @traitlets.observe("placement")
    def _on_placement(self, change):
        if self._ready:
            self._update_prediction()

    @traitlets.observe("budget")
    def _on_budget(self, change):
        if self._ready:
            self._update_suggestion()

    @traitlets.observe("selected")
    def _on_selected(self, change):
        if self._ready:
            self._show_code(change["new"])

    def _update_prediction(self):
        try:
            self.prediction = _figures(self.profile.predict(dict(self.placement)))
        except Exception as exc:
            self.prediction = {}
            self.error = f"Prediction failed: {_describe(exc)}"

    def _update_suggestion(self):
        try:
            found = self.profile.suggest(budget=self.budget, method=self.method)
        except Exception as exc:
            self.suggestion = {}
            self.error = f"No suggestion for a budget of {self.budget} bytes: {_describe(exc)}"
            return
        suggestion = _figures(found)
        suggestion.update(
            placement=_plain(dict(found.placement)),
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

    def _show_code(self, node_id):
        self.line_profile = ""
        try:
            function = self._callee(node_id)
        except ValueError as exc:
            self.code = {}
            self.error = str(exc)
            return
        sources = self.profile_data.get("sources", {}).get(function, {})
        self.code = {"node": node_id, "function": function,
                     "fwd": sources.get("fwd", ""), "bwd": sources.get("bwd", "")}

    def _history_entry(self, profile, predicted):
        self._runs += 1
        return {"run": self._runs, "placement": _plain(dict(profile.placement)),
                "predicted": dict(predicted), "measured": _figures(profile)}

    def _rerun(self, raise_errors=True):
        placement = dict(self.placement)
        predicted = dict(self.prediction)
        self.busy = True
        self.error = ""
        try:
            measured = self.profile.rerun(placement)
        except Exception as exc:
            self.error = f"Rerun failed: {_describe(exc)}"
            if raise_errors:
                raise
            return None
        finally:
            self.busy = False
        self.profile = measured
        self.profile_data = _plain(measured.to_dict())
        self._update_prediction()
        self._update_suggestion()
        self._show_code(self.selected)
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
        html = getattr(self.profile, "_repr_html_", None)
        if html is not None:
            data["text/html"] = html()
        report = getattr(self.profile, "report", None)
        if report is not None:
            data["text/plain"] = report(budget=self.budget, method=self.method)
        return data, metadata
