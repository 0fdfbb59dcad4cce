"""The report's figures drawn from many systems: one line per framework and variant across
party counts with its security setting as markers, and no two tick labels of an axis
overlapping."""

from __future__ import annotations

from itertools import combinations

import pytest
from matplotlib.colors import to_rgba

from mpcbench.report import figures
from mpcbench.results import labels, network, store, summary
from tests.unit import report_data


@pytest.fixture(scope="module")
def tables(tmp_path_factory) -> figures.Tables:
    results = tmp_path_factory.mktemp("many")
    for run in report_data.many_systems():
        store.append(run, results)
    df = store.load(results)
    figures.theme()
    return figures.inputs(df, summary.summary(df), summary.phases(df), network.by_network(df))


def _overlaps(fig) -> list[tuple[str, str]]:
    """Pairs of tick labels of one axis whose drawn extents intersect."""
    fig.canvas.draw()
    pairs = []
    for ax in fig.axes:
        frame = ax.get_window_extent()
        for which, axis in (("x", ax.xaxis), ("y", ax.yaxis)):
            drawn = []
            for label in axis.get_ticklabels():
                box = label.get_window_extent()
                centre = (box.x0 + box.x1) / 2 if which == "x" else (box.y0 + box.y1) / 2
                lo, hi = (frame.x0, frame.x1) if which == "x" else (frame.y0, frame.y1)
                if label.get_visible() and label.get_text() and lo - 1 <= centre <= hi + 1:
                    drawn.append((label.get_text(), box))
            pairs += [(a, b) for (a, abox), (b, bbox) in combinations(drawn, 2)
                      if abox.overlaps(bbox)]
    return pairs


@pytest.mark.parametrize("spec", figures.FIGURES, ids=lambda s: s.name)
def test_no_tick_labels_overlap(tables, spec):
    fig = figures.render(spec, tables)
    assert fig is not None, spec.name
    try:
        assert _overlaps(fig) == []
    finally:
        figures.close(fig)


def test_many_systems_overlap_before_the_fit(tables):
    """The accuracy figure's labels are long enough to collide when drawn flat."""
    spec = next(s for s in figures.FIGURES if s.name == "accuracy_agreement")
    fig = spec.draw(tables)
    for ax in fig.axes:
        ax.tick_params(axis="x", labelrotation=0)
    assert _overlaps(fig)
    figures.fit_tick_labels(fig, spec.name)
    assert _overlaps(fig) == []
    figures.close(fig)


def test_one_line_per_series_across_parties_marked_by_security(tables):
    spec = next(s for s in figures.FIGURES if s.name == "time_per_image")
    fig = figures.render(spec, tables)
    mpc = tables.repeats[(tables.repeats["kind"] == "MPC")
                         & (tables.repeats["network"] == "none")]
    series = sorted(mpc["series"].unique())
    assert "mpyc {bit_length=16}" in series and "crypten+tuned [TTP]" in series
    for ax in fig.axes:
        lines = {to_rgba(line.get_color()): sorted(line.get_xdata()) for line in ax.get_lines()
                 if len(line.get_xdata())}
        for name in series:  # t=0 at 2 parties and t=1 at 3 on one line
            assert lines[to_rgba(tables.palette[name])] == [2, 3], (ax.get_title(), name)
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "security (marker)" in legend
    assert {labels.NO_PRIVACY, labels.HONEST_MAJORITY, labels.TFP_DEALER,
            labels.TTP_DEALER} <= set(legend)
    assert not any("t=0]" in text for text in legend)
    figures.close(fig)
