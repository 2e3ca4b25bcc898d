"""Line plots with labelled axes and reference lines (a metric over steps or batches)."""

from __future__ import annotations

from dataclasses import dataclass

from textual_plotext import PlotextPlot


@dataclass(frozen=True)
class Series:
    label: str
    xs: list[float]
    ys: list[float]


class LinePlot(PlotextPlot):
    """A plotext plot: each series a line with points, each reference a horizontal line;
    the axes carry their values, so the scale is always stated."""

    DEFAULT_CSS = "LinePlot { height: 12; width: 1fr; }"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.series: list[Series] = []
        self.references: list[tuple[str, float]] = []

    def draw(self, title: str, series: list[Series], references: list[tuple[str, float]],
             xlabel: str, ylabel: str) -> None:
        self.series, self.references = series, references
        plt = self.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title(title)
        plt.xlabel(xlabel)
        plt.ylabel(ylabel)
        xs = [x for s in series for x in s.xs] or [0.0, 1.0]
        for s in series:
            if s.xs:
                plt.plot(s.xs, s.ys, label=s.label, marker="braille")
                plt.scatter(s.xs, s.ys, marker="dot")
        for label, value in references:
            plt.plot([min(xs), max(xs)], [value, value], label=f"{label} {value:.4g}",
                     marker="-")
        if len(set(xs)) < 10:
            plt.xticks(sorted(set(xs)))
        self.refresh()
