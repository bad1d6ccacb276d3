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
