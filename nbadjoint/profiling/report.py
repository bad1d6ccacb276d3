"""Text and static HTML renderings of a `Profile`: a call-tree table with the advisor's suggestion."""

from __future__ import annotations

import html

from nbadjoint.profiling.calltree import ROOT_SITE
from nbadjoint.profiling.units import format_bytes, format_seconds, parse_budget

COLUMNS = ("call site", "calls", "state", "primal", "fwd incl", "bwd incl", "snapshot", "tape",
           "ΔT", "ΔPk", "advice")
_RIGHT = {"calls", "primal", "fwd incl", "bwd incl", "snapshot", "tape", "ΔT", "ΔPk"}


def _suggestion(profile, budget, method):
    """(Suggestion or None, error text or None)."""
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


def _summary_lines(profile, suggestion, error, budget):
    if suggestion is not None:
        budget_bytes = suggestion.budget_bytes
    else:
        budget_bytes = profile.budget_bytes if budget is None else parse_budget(budget)
    lines = [
        f"primal {format_seconds(profile.primal_time)}   adjoint {format_seconds(profile.adjoint_time)}"
        f"   ratio {profile.ratio:.2f}   peak {format_bytes(profile.peak_bytes)}"
        f"   tape traffic {format_bytes(profile.tape_traffic_bytes)}"
        f"   budget {format_bytes(budget_bytes)}",
    ]
    extra = []
    if profile.heap_peak_bytes is not None:
        extra.append(f"heap peak {format_bytes(profile.heap_peak_bytes)}")
    if profile.rss_peak_bytes is not None:
        extra.append(f"process peak RSS {format_bytes(profile.rss_peak_bytes)}")
    if extra:
        lines.append("   ".join(extra))
    if any(r.checkpointed and r.t_saved > 0 for r in profile.sites):
        lines.append("ckpt (free): checkpointed without recomputation, the call tapes nothing "
                     "(its shape guards held)")
    if suggestion is None:
        lines.append(f"advisor: {error}")
        return lines
    changes = [(s, v) for s, v in sorted(suggestion.placement.items())
               if v != profile.placement.get(s, True)]
    gain = profile.adjoint_time - suggestion.time
    if abs(gain) < 1e-9:
        gain = 0.0          # rounding in the sums of per-call times, not a change (shown as +0 s)
    percent = 100.0 * gain / profile.adjoint_time if profile.adjoint_time > 0 else 0.0
    if changes:
        split = [s for s, v in changes if not v]
        checkpoint = [s for s, v in changes if v]
        what = "; ".join(([f"split {', '.join(split)}"] if split else []) +
                         ([f"checkpoint {', '.join(checkpoint)}"] if checkpoint else []))
        lines.append(f"advisor ({suggestion.method}): {what}")
    else:
        lines.append(f"advisor ({suggestion.method}): keep the placement as run")
    lines.append(f"  predicted adjoint {format_seconds(suggestion.time)} "
                 f"({format_seconds(-gain, signed=True)}, {0.0 - percent:+.1f}%), "
                 f"peak {format_bytes(suggestion.peak_bytes)}")
    return lines


def text_report(profile, budget=None, method="auto"):
    """The profile as a fixed-width table, indented by call depth."""
    suggestion, error = _suggestion(profile, budget, method)
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
    lines.append("")
    lines.append("primal: inclusive primal time (the cost of checkpointing, with snapshot write); "
                 "ΔT: time saved by splitting; ΔPk: change of the peak if split; "
                 "* the advisor's change")
    return "\n".join(lines)


def html_report(profile, budget=None, method="auto"):
    """The profile as a static HTML table (every text escaped)."""
    suggestion, error = _suggestion(profile, budget, method)
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
    parts.append("</tbody></table></div>")
    return "\n".join(parts)


__all__ = ["text_report", "html_report", "COLUMNS", "ROOT_SITE"]
