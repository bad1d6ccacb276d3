"""Text and static HTML renderings of a `Profile`: a call-tree table with the advisor's suggestion."""

from __future__ import annotations

import html
import textwrap

from nbadjoint.profiling.calltree import ROOT_SITE
from nbadjoint.profiling.units import format_bytes, format_seconds, parse_budget

WIDTH = 88
"""Prose lines of the reports are wrapped at this width (a notebook's output wraps mid-word)."""

LEGEND = [
    "primal: inclusive primal time (the cost of checkpointing, with snapshot write)",
    "ΔT: time saved by splitting;  ΔPk: change of the peak if split;  * the advisor's change",
]

COLUMNS = ("call site", "calls", "state", "primal", "fwd incl", "bwd incl", "snapshot", "tape",
           "ΔT", "ΔPk", "advice")
_RIGHT = {"calls", "primal", "fwd incl", "bwd incl", "snapshot", "tape", "ΔT", "ΔPk"}


NO_ADVICE = "not computed for this view (the widget computes it once it is shown)"


def _suggestion(profile, budget, method, advice=True):
    """(Suggestion or None, error text or None)."""
    if not advice:
        return None, NO_ADVICE
    try:
        return profile.suggest(budget=budget, method=method), None
    except ValueError as exc:
        return None, str(exc)


def _rows(profile, suggestion):
    """(depth, cells) per node of the static call-site tree, root first, in call order."""
    records = {s.id: s for s in profile.sites}
    fwd, bwd = profile._model.root_inclusive_times(profile.placement)
    rows = [(0, {"call site": f"{profile.root} (root)", "calls": "1", "state": "",
                 "primal": format_seconds(profile.primal_time), "fwd incl": format_seconds(fwd),
                 "bwd incl": format_seconds(bwd), "snapshot": "",
                 "tape": "", "ΔT": "", "ΔPk": "",
                 "advice": ""})]
    stack = [(child, 1) for child in reversed(profile.tree.get("children", []))]
    while stack:
        node, depth = stack.pop()
        stack.extend((child, depth + 1) for child in reversed(node.get("children", [])))
        record = records.get(node["id"])
        if record is None:
            continue
        advice = ""
        if suggestion is not None and record.calls:
            wanted = suggestion.placement.get(record.id, record.checkpointed)
            if wanted != record.checkpointed:
                advice = "* split" if not wanted else "* checkpoint"
        rows.append((depth, {
            "call site": record.id,
            "calls": str(record.calls),
            "state": ("ckpt (free)" if record.t_saved > 0 else "ckpt") if record.checkpointed else "split",
            "primal": format_seconds(record.t_primal),
            "fwd incl": format_seconds(record.t_fwd_incl),
            "bwd incl": format_seconds(record.t_bwd_incl),
            "snapshot": format_bytes(record.snapshot_bytes),
            "tape": format_bytes(record.tape_bytes),
            "ΔT": format_seconds(record.delta_t),
            "ΔPk": format_bytes(record.delta_pk, signed=True),
            "advice": advice,
        }))
    return rows


def offset(x):
    """A relative error in words: ``0.143 -> "14% above"``, ``-0.012 -> "1.2% below"`` (one
    decimal under 10%), ``0 -> "0% off"``."""
    size = f"{100 * abs(x):.{1 if round(100 * abs(x), 1) < 10 else 0}f}%"
    return f"{size} {'above' if x > 0 else 'below' if x < 0 else 'off'}"   # as the widget words it


def accuracy_lines(profile, predicted=None):
    """What the cost model's predictions are worth: its measured error over the reruns that led to
    ``profile`` and, for a ``predicted`` time, the range to expect; before any rerun, that the
    model is unchecked and how to check it."""
    accuracy = getattr(profile, "model_accuracy", lambda: None)()
    if accuracy is None:
        return ["  a prediction of the cost model, not yet checked: prof.rerun(placement) measures one"]
    low, high, count = accuracy
    span = offset(low) if count == 1 or offset(low) == offset(high) else f"{offset(low)} to {offset(high)}"
    lines = [f"  cost model: measured {span} its prediction on {count} rerun{'s' if count > 1 else ''}"]
    if predicted is not None and predicted > 0:
        expect = format_seconds(predicted * (1 + low))
        if count > 1 and format_seconds(predicted * (1 + high)) != expect:
            expect += f" to {format_seconds(predicted * (1 + high))}"
        lines.append(f"  so expect the suggestion to take {expect}")
    return lines


def _summary_lines(profile, suggestion, error, budget):
    if suggestion is not None:
        budget_bytes = suggestion.budget_bytes
    else:
        budget_bytes = profile.budget_bytes if budget is None else parse_budget(budget)
    lines = [
        f"primal {format_seconds(profile.primal_time)}   adjoint {format_seconds(profile.adjoint_time)}"
        f"   ratio {profile.ratio:.2f}   peak {format_bytes(profile.peak_bytes)}",
        f"tape traffic {format_bytes(profile.tape_traffic_bytes)}   budget {format_bytes(budget_bytes)}",
    ]
    extra = []
    if profile.heap_peak_bytes is not None:
        extra.append(f"heap peak {format_bytes(profile.heap_peak_bytes)}")
    if profile.rss_peak_bytes is not None:
        extra.append(f"process peak RSS {format_bytes(profile.rss_peak_bytes)}")
    if extra:
        lines.append("   ".join(extra))
    if any(r.checkpointed and r.t_saved > 0 for r in profile.sites):
        lines += ["ckpt (free): checkpointed without recomputation, the call tapes nothing",
                  "             (its shape guards held)"]
    if suggestion is None:
        lines.append(f"advisor: {error}")
        return lines
    changes = [(s, v) for s, v in sorted(suggestion.placement.items())
               if not s.endswith(":for") and v != profile.placement.get(s, True)]
    gain = profile.adjoint_time - suggestion.time
    if abs(gain) < 1e-9:
        gain = 0.0          # rounding in the sums of per-call times, not a change (shown as +0 s)
    percent = 100.0 * gain / profile.adjoint_time if profile.adjoint_time > 0 else 0.0
    loop_changes = _loop_changes(profile, suggestion)
    if changes or loop_changes:
        split = [s for s, v in changes if not v]
        checkpoint = [s for s, v in changes if v]
        lines.append(f"advisor ({suggestion.method}): " + "; ".join(
            ([f"split {len(split)} site{'s' if len(split) > 1 else ''}"] if split else []) +
            ([f"checkpoint {len(checkpoint)} site{'s' if len(checkpoint) > 1 else ''}"] if checkpoint else []) +
            ([f"schedule {len(loop_changes)} loop{'s' if len(loop_changes) > 1 else ''}"]
             if loop_changes else [])))
        for verb, ids in (("split", split), ("checkpoint", checkpoint)):
            if ids:
                lines += textwrap.wrap(", ".join(ids), WIDTH, initial_indent=f"  {verb}: ",
                                       subsequent_indent=" " * (len(verb) + 4), break_on_hyphens=False,
                                       break_long_words=False)
        for loop_id, value in loop_changes:
            lines += textwrap.wrap(f"loop {loop_id}: {schedule_words(value)}", WIDTH,
                                   initial_indent="  ", subsequent_indent="    ",
                                   break_on_hyphens=False, break_long_words=False)
    else:
        lines.append(f"advisor ({suggestion.method}): keep the placement as run")
    lines.append(f"  predicted adjoint {format_seconds(suggestion.time)} "
                 f"({format_seconds(-gain, signed=True)}, {0.0 - percent:+.1f}%), "
                 f"peak {format_bytes(suggestion.peak_bytes)}")
    again = _recomputed(profile, suggestion.placement)
    if again:
        lines.append(f"  the loops run {again}")
    lines += accuracy_lines(profile, suggestion.time)
    return lines


def schedule_words(value):
    """A loop's placement value in words: ``20 -> "20 snapshots in memory (binomial schedule)"``."""
    if value is None:
        return "every iteration kept"
    if isinstance(value, dict):
        ram, disk = value.get("ram", 0), value.get("disk", 0)
    elif isinstance(value, (tuple, list)):
        ram, disk = value
    else:
        ram, disk = int(value), 0
    if disk:
        return f"{ram} snapshots in memory + {disk} on disk (two-level schedule)"
    return f"{ram} snapshot{'s' if ram != 1 else ''} in memory (binomial schedule)"


def _as_run(profile, loop_id):
    value = getattr(profile, "loop_placement", {}).get(loop_id)
    return None if value is None else tuple(value)


def _loop_changes(profile, suggestion):
    """(loop id, value) of the loops the suggestion runs otherwise than the profile did."""
    from nbadjoint.transform.loops import read_schedule

    out = []
    for record in getattr(profile, "loops", ()):
        value = suggestion.placement.get(record.id, record.default)
        if read_schedule(value, record.id) != _as_run(profile, record.id):
            out.append((record.id, value))
    return out


def _recomputed(profile, placement):
    """"N iterations (t(n, S) per run)" the loops of ``placement`` run again, or ""."""
    if not any(k.endswith(":for") for k in placement):
        return ""
    try:
        again = profile.predict(placement).recomputed or {}
    except ValueError:
        return ""
    total = sum(again.values())
    return f"{total} iteration{'s' if total != 1 else ''} again (t(n, S) per run)" if again else ""


def loop_lines(profile, suggestion=None, iterations=None):
    """The report's lines on the time loops: per loop its iterations, how it ran, the bytes one
    snapshot and one iteration's tape take, the time of an iteration; why the model cannot
    schedule it, when it cannot; with ``iterations`` (loop id -> n), the prediction of the run as
    placed and as suggested with those loops that long."""
    records = getattr(profile, "loops", ())
    if not records:
        return []
    lines = ["", "time loops (placement: S snapshots, {\"ram\": S, \"disk\": D}, None: keep all)"]
    wrap = lambda text, indent: textwrap.wrap(text, WIDTH, initial_indent=indent,
                                              subsequent_indent=indent + "  ",
                                              break_on_hyphens=False, break_long_words=False)
    for r in records:
        runs = f" x {r.runs} runs" if r.runs > 1 else ""
        n = r.iterations[0] if len(set(r.iterations)) == 1 else \
            f"{min(r.iterations)}-{max(r.iterations)}" if r.iterations else 0
        ran = _as_run(profile, r.id)
        lines += wrap(f"{r.id}  line {r.lineno} of {r.caller}: {n} iterations{runs}, "
                      f"{schedule_words(ran)}", "  ")
        if r.modelled:
            lines += wrap(f"snapshot {format_bytes(r.snapshot_bytes)}, tape "
                          f"{format_bytes(r.iteration_tape_bytes)} per iteration taped, "
                          f"{format_seconds(r.t_primal_iter)} per iteration run again", "    ")
        else:
            lines += textwrap.wrap(f"cannot be scheduled by the model: {r.reason}", WIDTH,
                                   initial_indent="    ", subsequent_indent="    ")
    if iterations:
        longer = ", ".join(f"{k} = {v}" for k, v in iterations.items())
        lines += wrap(f"predicted with {longer} iterations:", "")
        placements = [("as run", {**profile.placement,
                                  **{r.id: _value(_as_run(profile, r.id)) for r in records}})]
        if suggestion is not None:
            placements.append(("as suggested", suggestion.placement))
        for name, placement in placements:
            try:
                p = profile.predict(placement, iterations=iterations)
            except ValueError as exc:
                lines.append(f"  {name}: {exc}")
                continue
            again = sum((p.recomputed or {}).values())
            lines += wrap(f"{name}: adjoint {format_seconds(p.time)}, peak "
                          f"{format_bytes(p.peak_bytes)}"
                          + (f", {again} iterations run again" if again else ""), "  ")
    return lines


def _value(schedule):
    if schedule is None:
        return None
    ram, disk = schedule
    return ram if not disk else {"ram": ram, "disk": disk}


def text_report(profile, budget=None, method="auto", advice=True, iterations=None):
    """The profile as a fixed-width table, indented by call depth (``advice=False``: without the
    advisor's suggestion, which takes seconds on trees with hundreds of call sites), then its
    time loops (``iterations``: loop id -> n, predictions with those loops that long)."""
    suggestion, error = _suggestion(profile, budget, method, advice)
    runs = f"median of {profile.repeat} runs" if profile.repeat > 1 else "1 run"
    if getattr(profile, "clock", "wall") == "cpu":
        runs += ", process CPU time"
    argnums = profile.argnums
    lines = [f"nbadjoint profile of {profile.root} (argnums {argnums}, {runs})"]
    lines += _summary_lines(profile, suggestion, error, budget)
    lines.append("")
    rows = _rows(profile, suggestion)
    cells = [{**row, "call site": "  " * depth + row["call site"]} for depth, row in rows]
    widths = {c: max(len(c), *(len(r[c]) for r in cells)) for c in COLUMNS}

    def line(row):
        parts = [row[c].rjust(widths[c]) if c in _RIGHT else row[c].ljust(widths[c])
                 for c in COLUMNS]
        return "  ".join(parts).rstrip()

    lines.append(line({c: c for c in COLUMNS}))
    lines.append("  ".join("-" * widths[c] for c in COLUMNS))
    lines += [line(row) for row in cells]
    lines += loop_lines(profile, suggestion, iterations)
    lines.append("")
    lines += LEGEND
    return "\n".join(lines)


def html_report(profile, budget=None, method="auto", advice=True):
    """The profile as a static HTML table (every text escaped); ``advice`` as in `text_report`."""
    suggestion, error = _suggestion(profile, budget, method, advice)
    esc = html.escape
    parts = ['<div class="nbadjoint-profile">',
             f"<p><b>nbadjoint profile of {esc(profile.root)}</b></p>"]
    for text in _summary_lines(profile, suggestion, error, budget):
        parts.append(f"<p style=\"margin:0\">{esc(text)}</p>")
    parts.append('<table style="border-collapse:collapse;font-family:monospace;font-size:90%">')
    parts.append("<thead><tr>" + "".join(
        f'<th style="text-align:{"right" if c in _RIGHT else "left"};padding:2px 8px">{esc(c)}</th>'
        for c in COLUMNS) + "</tr></thead><tbody>")
    for depth, row in _rows(profile, suggestion):
        cells = []
        for c in COLUMNS:
            style = f'text-align:{"right" if c in _RIGHT else "left"};padding:2px 8px'
            if c == "call site":
                style += f";padding-left:{8 + 16 * depth}px"
            cells.append(f'<td style="{style}">{esc(row[c])}</td>')
        parts.append("<tr>" + "".join(cells) + "</tr>")
    parts.append("</tbody></table>")
    for text in loop_lines(profile, suggestion):
        if text:
            parts.append(f"<p style=\"margin:0;font-family:monospace;white-space:pre\">{esc(text)}</p>")
    parts.append("</div>")
    return "\n".join(parts)


__all__ = ["text_report", "html_report", "COLUMNS", "ROOT_SITE"]
