"""The text report reads in a notebook: prose lines wrapped short, the advisor's sites listed
under a count rather than in one long wrapped block, and no report at all of a suggestion that
was not computed (advice=False)."""

import numpy as np
import pytest

import nbadjoint as nba
from nbadjoint.profiling.report import WIDTH, html_report, text_report


def leaf(u, k):
    for _ in range(3):
        u = np.sin(u) * k
    return u


def model(u):
    for k in range(12):
        u = leaf(u, 1.0 + k / 100)
    u = leaf(u, 0.5)
    u = leaf(u, 0.25)
    return np.sum(u * u)


@pytest.fixture(scope="module")
def prof():
    return nba.profile(model, np.linspace(0.0, 1.0, 300))


def prose(report):
    """The report's lines outside its table (the table is as wide as its columns)."""
    lines = report.splitlines()
    table_start = next(i for i, line in enumerate(lines) if line.startswith("call site"))
    table_end = lines.index("", table_start)
    return lines[:table_start] + lines[table_end:]


def test_prose_lines_fit_the_width_and_the_advice_counts_its_sites(prof):
    report = text_report(prof, budget="1GB")
    assert all(len(line) <= WIDTH for line in prose(report)), "\n".join(prose(report))
    advisor = next(line for line in report.splitlines() if line.startswith("advisor ("))
    assert advisor.endswith("split 3 sites"), advisor
    split = [line for line in report.splitlines() if line.startswith("  split: ")]
    assert len(split) == 1 and split[0].count(":") >= 3
    assert "budget 1.0 GB" in report


def test_a_report_without_advice_says_so_and_does_not_search(prof, monkeypatch):
    monkeypatch.setattr(type(prof), "suggest", lambda *a, **k: pytest.fail("the advisor ran"))
    for report in (text_report(prof, advice=False), html_report(prof, advice=False)):
        assert "not computed for this view" in report
        assert "* split" not in report


def test_before_any_rerun_the_report_says_the_prediction_is_unchecked(prof):
    report = text_report(prof, budget="1GB")
    lines = report.splitlines()
    predicted = next(i for i, line in enumerate(lines) if line.startswith("  predicted adjoint"))
    assert lines[predicted + 1] == \
        "  a prediction of the cost model, not yet checked: prof.rerun(placement) measures one"
    assert prof.model_accuracy() is None


def test_reruns_test_the_cost_model_and_the_report_gives_the_range_to_expect(prof):
    suggestion = prof.suggest(budget="1GB")
    first = prof.rerun(suggestion.placement, warmup=1)
    second = first.rerun(prof.placement, warmup=1)
    assert prof.model_checks == [] and len(first.model_checks) == 1 and len(second.model_checks) == 2
    check = second.model_checks[1]
    assert check.predicted == first.predict(prof.placement)
    assert (check.measured.time, check.measured.peak_bytes) == (second.adjoint_time, second.peak_bytes)
    errors = [c.measured.time / c.predicted.time - 1 for c in second.model_checks]
    low, high, count = second.model_accuracy()
    assert (low, high, count) == pytest.approx((min(errors), max(errors), 2))
    report = text_report(second, budget="1GB")
    assert all(len(line) <= WIDTH for line in prose(report)), "\n".join(prose(report))
    line = next(line for line in report.splitlines() if line.startswith("  cost model: measured "))
    assert line.endswith(" its prediction on 2 reruns") and ("above" in line or "below" in line), line
    expect = next(line for line in report.splitlines() if line.startswith("  so expect the suggestion to take "))
    predicted = second.suggest(budget="1GB").time
    from nbadjoint.profiling.units import format_seconds
    assert expect.endswith(format_seconds(predicted * (1 + high))), (expect, predicted, low, high)
    assert format_seconds(predicted * (1 + low)) in expect


def test_a_rerun_of_edited_code_is_no_test_of_the_model(prof, monkeypatch):
    import dataclasses

    session = prof.session
    real = session.rerun

    def edited(placement, **options):
        measured = real(placement, **options)
        measured.data = dataclasses.replace(measured.data, sources={**measured.data.sources, "leaf": {"fwd": "x", "bwd": "y"}})
        return measured

    monkeypatch.setattr(session, "rerun", edited)
    assert prof.rerun(prof.placement).model_checks == []


def test_model_checks_survive_pickling(prof):
    import pickle

    again = pickle.loads(pickle.dumps(prof.rerun(prof.placement)))
    assert len(again.model_checks) == 1 and again.model_accuracy() is not None


def test_relative_errors_read_in_words():
    from nbadjoint.profiling.report import offset

    assert [offset(x) for x in (0.143, -0.012, 0.0, -0.5, 0.11 / 0.1 - 1)] == \
        ["14% above", "1.2% below", "0.0% off", "50% below", "10% above"]
