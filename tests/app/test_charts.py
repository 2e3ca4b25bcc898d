"""Charts that tell the truth: stated scales, marks, distinct labels, every row, and the
bins, quantiles and dates of the columns they draw."""

from __future__ import annotations

import duckdb
import pytest
from textual.app import App, ComposeResult
from textual.containers import VerticalScroll

from mlcycle.app.widgets.bar_chart import BarChart, Mark, axis_range, chart_lines, unique_labels
from mlcycle.app.widgets.column_chart import histogram_rows, plot_column
from mlcycle.app.widgets.signed_bars import signed_lines
from mlcycle.data import quality


def _plain(lines) -> list[str]:
    return [line.plain for line in lines]


def _cells(line: str) -> int:
    return sum(ch in "█▏▎▍▌▋▊▉" for ch in line)


def test_close_metrics_look_different_on_an_axis_near_them_with_goal_and_baseline() -> None:
    rows = [("knn", 0.827, "0.8270"), ("logistic", 0.788, "0.7880")]
    marks = [Mark("goal", 0.81), Mark("baseline", 0.5)]
    lo, hi = axis_range([0.827, 0.788], marks, None, None)
    assert 0.7 < lo < 0.788 and 0.827 < hi < 0.9  # the weak baseline does not stretch it
    lines = _plain(chart_lines(80, "cv.roc_auc of session abc", rows, marks, lo, hi, ""))
    scale = lines[1]
    assert f"{lo:.4g}" in scale and f"{hi:.4g}" in scale
    knn, logistic = lines[2], lines[3]
    assert _cells(knn) > 1.5 * _cells(logistic)  # at 0 they would be 0.83 vs 0.79 of a bar
    assert "│" in knn and "│" in logistic  # the goal's mark crosses every bar
    assert "goal 0.81" in lines[-1] and "baseline 0.5 (off scale)" in lines[-1]
    assert all(len(line) <= 80 for line in lines)


def test_a_calm_drift_draws_a_short_bar_against_its_threshold() -> None:
    rows = [("calm", 0.2, "PSI 0.004 (0.2x)"), ("moved", 2.5, "PSI 0.050 (2.5x)")]
    marks = [Mark("drift", 1.0)]
    lines = _plain(chart_lines(80, "drift", rows, marks, *axis_range([0.2, 2.5], marks, 0, 3),
                               "x"))
    assert lines[1].rstrip().endswith("3 x")  # the scale runs to 3 times the threshold
    room = 80 - max(len("calm"), len("moved")) - len("PSI 0.050 (2.5x)") - 3
    assert _cells(lines[2]) < room / 10 < room * 0.8 < _cells(lines[3])
    assert "drift 1" in lines[-1]


def test_two_long_similar_names_keep_distinct_labels() -> None:
    names = ["hist_gradient_boosting_classifier 1a2b", "hist_gradient_boosting_classifier 3c4d"]
    labels, width = unique_labels(names, 18)
    assert len(set(labels)) == 2 and width <= 18 and all(len(x) <= width for x in labels)
    assert labels[0].endswith("1a2b") and labels[1].endswith("3c4d")
    # Names alike in all but one middle character widen until they differ.
    alike = ["model_alpha_version_a_final", "model_alpha_version_b_final"]
    labels, width = unique_labels(alike, 10)
    assert len(set(labels)) == 2
    lines = _plain(signed_lines(60, "correlation", "", [(alike[0], 0.5), (alike[1], -0.3)], 1.0))
    assert "-1.00" in lines[1] and "+1.00" in lines[1]
    assert lines[2].split(" ")[0] != lines[3].split(" ")[0]


class _Charts(App):
    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield BarChart(id="chart")


async def test_no_row_is_dropped_at_80x24() -> None:
    app = _Charts()
    async with app.run_test(size=(80, 24)) as pilot:
        chart = app.query_one(BarChart)
        title = "a title long enough to wrap over more than one line at eighty columns, " * 2
        chart.plot(title, [(f"batch-{i:02d}.csv", float(i)) for i in range(30)], unit="rows")
        await pilot.pause()
        lines = _plain(chart.lines(chart.size.width))
        assert chart.size.height == len(lines) > 30 + 2  # wrapped title, scale, 30 rows
        assert sum(line.lstrip().startswith("batch-") for line in lines) == 30
        scroll = app.query_one(VerticalScroll)
        scroll.scroll_end(animate=False)
        await pilot.pause()
        assert scroll.max_scroll_y > 0  # the rows below the screen are scrolled to


@pytest.fixture(scope="module")
def report() -> dict:
    con = duckdb.connect()
    con.execute(
        "CREATE TABLE t AS SELECT (i * 37 % 72)::INTEGER AS tenure_months, "
        "DATE '2024-01-01' + (i % 366)::INTEGER AS \"signed up\", "
        "'city ' || (i % 25) AS \"city/town\" FROM range(2000) r(i)")
    return {s["name"]: s for s in quality.compute(con, "t")["column_stats"]}


def test_an_integer_column_gets_whole_number_bins_and_quantiles(report: dict) -> None:
    s = report["tenure_months"]
    assert all(float(v).is_integer() for v in s["quantiles"].values())
    hist = s["histogram"]
    assert hist["integer"] and sum(hist["counts"]) == 2000
    widths = {b - a for a, b in zip(hist["edges"], hist["edges"][1:])}
    assert widths == {4.0}  # 72 values in bins of 4, never 3.6
    title, rows = histogram_rows(hist)
    assert "bins of 4 whole numbers" in title and rows[0][0] == "0–3" and rows[-1][0] == "68–71"


def test_a_date_column_gets_a_count_over_time(report: dict) -> None:
    s = report["signed up"]
    assert s["histogram"]["time"] and sum(s["histogram"]["counts"]) == 2000
    chart = BarChart()
    plot_column(chart, s)
    assert chart.title.startswith("rows over time, 2024-01-01 to 2024-12-31")
    assert len({label for label, *_ in chart.rows}) == len(chart.rows)


def test_top_values_say_how_many_more(report: dict) -> None:
    chart = BarChart()
    plot_column(chart, report["city/town"])
    assert chart.title == "top 10 of 25 values (+15 more not drawn)"


def test_quantiles_of_many_values_come_from_a_hashed_sample_close_to_the_exact_ones(
        monkeypatch) -> None:
    con = duckdb.connect()
    # 20,000 rows: "spread" has every value, "sparse" 500; the cap is set to 2,000 values.
    con.execute("CREATE TABLE t AS SELECT (i * 7919 % 20000)::INTEGER AS spread, "
                "CASE WHEN i % 40 = 0 THEN i::DOUBLE END AS sparse FROM range(20000) r(i)")
    monkeypatch.setattr(quality, "QUANTILE_VALUES", 2_000)
    first = {s["name"]: s for s in quality.compute(con, "t")["column_stats"]}
    again = {s["name"]: s for s in quality.compute(con, "t")["column_stats"]}
    spread, sparse = first["spread"], first["sparse"]
    assert spread["quantiles_every"] == 10 and "quantiles_every" not in sparse
    assert spread["quantiles"] == again["spread"]["quantiles"]  # the same rows every time
    exact = {"p05": 1000, "p25": 5000, "p50": 10000, "p75": 15000, "p95": 19000}
    for name, value in spread["quantiles"].items():
        assert float(value).is_integer() and abs(value - exact[name]) < 20000 * 0.03
    assert sparse["quantiles"]["p50"] == 9960.0  # all 500 values: exact
    monkeypatch.setattr(quality, "QUANTILE_VALUES", 100_000)
    assert quality.compute(con, "t")["column_stats"][0]["quantiles"]["p50"] == 9999.0
