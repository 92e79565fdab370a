"""The overview's charts as ECharts options, built with pyecharts and embedded as JSON.

The page draws them with the vendored ``echarts.min.js`` (``/static/vendor/``, where
``CurrentConfig.ONLINE_HOST`` points, so nothing is fetched from the internet). Options are
plain JSON (``dump_options_with_quotes``), never ``JsCode``: what a click on an element
lists is carried by the chart's ``drill`` description, read by ``dashboard.js``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from pyecharts import options as opts
from pyecharts.charts import Bar, Line
from pyecharts.globals import CurrentConfig

from ledger.dashboard.overview import TILE_METRICS, Overview
from ledger.dashboard.words import word
from ledger.domain.values import EscalationLevel
from ledger.reports.export import Lang

STATIC_PREFIX = "/static/"
VENDOR_PREFIX = f"{STATIC_PREFIX}vendor/"
CurrentConfig.ONLINE_HOST = VENDOR_PREFIX

MET_COLOUR, MISSED_COLOUR = "#3ba272", "#ee6666"
BAR_Z, LINE_Z = 2, 3
"""The daily chart's volume bars sit below its compliance lines (ECharts draws a higher
``z`` on top): on a one-day view each line is a single point in the middle of the bar."""
METRIC_COLOURS = {"respond": "#5470c6", "arrive": "#fac858", "resolve": "#73c0de"}


def script_urls() -> list[str]:
    """Where the page loads ECharts from (pyecharts' dependency under its host)."""
    return [f"{CurrentConfig.ONLINE_HOST}{name}.min.js" for name in Bar().js_dependencies.items]


@dataclass(frozen=True)
class Chart:
    """A chart to draw: its element id, its options and what a click on it lists."""

    id: str
    options: str
    drill: dict[str, Any]
    """How a click becomes a list query: ``{"by": param}`` maps the clicked category to a
    query parameter (its ``name``, or ``values[dataIndex]`` when the axis shows translated
    labels), ``{"series": param}`` and ``"series:<name>": value`` the clicked series."""

    @property
    def drill_json(self) -> str:
        return orjson.dumps(self.drill).decode()


def _base() -> opts.InitOpts:
    return opts.InitOpts(renderer="canvas", bg_color="#ffffff", is_horizontal_center=False)


def _options(chart: Bar | Line) -> str:
    """The options as compact JSON, safe to embed in a ``<script type=application/json>``
    (every ``<`` escaped as ``\\u003c``: escaping ``</`` alone would let a name holding
    ``<!--<script>`` keep the element open past its end tag)."""
    text = orjson.dumps(orjson.loads(chart.dump_options_with_quotes())).decode()
    return text.replace("<", "\\u003c")


def daily_chart(view: Overview, lang: Lang) -> Chart:
    days = [d.day.isoformat() for d in view.daily]
    bar = (
        Bar(init_opts=_base())
        .add_xaxis(days)
        .add_yaxis(
            word("volume", lang),
            [d.tickets for d in view.daily],
            yaxis_index=1,
            z=BAR_Z,
            itemstyle_opts=opts.ItemStyleOpts(color="#c8ccd4"),
            label_opts=opts.LabelOpts(is_show=False),
        )
        .extend_axis(yaxis=opts.AxisOpts(name=word("tickets", lang), position="right"))
        .set_global_opts(
            yaxis_opts=opts.AxisOpts(name="%", min_=0, max_=100),
            tooltip_opts=opts.TooltipOpts(trigger="axis"),
            legend_opts=opts.LegendOpts(pos_top="0"),
        )
    )
    line = Line().add_xaxis(days)
    for metric in TILE_METRICS:
        line.add_yaxis(
            word("compliance", lang, metric=word(metric, lang)),
            [d.met_pct[metric] for d in view.daily],
            is_connect_nones=True,
            color=METRIC_COLOURS[metric],
            z=LINE_Z,
            symbol="circle",
            symbol_size=8,
            label_opts=opts.LabelOpts(is_show=False),
        )
    lines = {word("compliance", lang, metric=word(m, lang)): m for m in TILE_METRICS}
    drill = {"by": "day", "series": "metric", **_prefixed(lines)}
    return Chart("chart-daily", _options(bar.overlap(line)), drill)


def _met_missed(chart_id: str, rows: list[tuple[str, int, int]], by: str, lang: Lang) -> Chart:
    names = [name or "—" for name, _, _ in rows]
    bar = (
        Bar(init_opts=_base())
        .add_xaxis(names)
        .add_yaxis(
            word("met", lang),
            [met for _, met, _ in rows],
            stack="targets",
            color=MET_COLOUR,
            label_opts=opts.LabelOpts(is_show=False),
        )
        .add_yaxis(
            word("missed", lang),
            [missed for _, _, missed in rows],
            stack="targets",
            color=MISSED_COLOUR,
            label_opts=opts.LabelOpts(is_show=False),
        )
        .set_global_opts(
            tooltip_opts=opts.TooltipOpts(trigger="axis"),
            legend_opts=opts.LegendOpts(pos_top="0"),
            xaxis_opts=opts.AxisOpts(axislabel_opts=opts.LabelOpts(rotate=30, interval=0)),
        )
    )
    outcome = {word("met", lang): "met", word("missed", lang): "missed"}
    return Chart(chart_id, _options(bar), {"by": by, "series": "outcome", **_prefixed(outcome)})


def _prefixed(series: dict[str, str]) -> dict[str, str]:
    """Series names (as shown, in the page's language) mapped to query values."""
    return {f"series:{name}": value for name, value in series.items()}


def engineer_chart(view: Overview, lang: Lang) -> Chart:
    rows = [(r.key, r.met, r.missed) for r in view.by_engineer]
    return _met_missed("chart-engineers", rows, "engineer", lang)


def contract_chart(view: Overview, lang: Lang) -> Chart:
    rows = [(r.key, r.met, r.missed) for r in view.by_contract]
    return _met_missed("chart-contracts", rows, "contract", lang)


def escalation_chart(view: Overview, lang: Lang) -> Chart:
    levels = sorted(view.escalation_matrix, key=_ladder_rank)
    bar = Bar(init_opts=_base()).add_xaxis([word(level, lang) for level in levels])
    buckets = next(iter(view.escalation_matrix.values()), {})
    for bucket in buckets:
        bar.add_yaxis(
            word(bucket, lang),
            [view.escalation_matrix[level][bucket] for level in levels],
            stack="age",
            label_opts=opts.LabelOpts(is_show=False),
        )
    bar.set_global_opts(
        tooltip_opts=opts.TooltipOpts(trigger="axis"), legend_opts=opts.LegendOpts(pos_top="0")
    )
    ages = _prefixed({word(b, lang): b for b in buckets})
    drill = {"by": "level", "values": levels, "series": "age", **ages}
    return Chart("chart-escalations", _options(bar), drill)


def _ladder_rank(level: str) -> int:
    """Levels in their order on the escalation ladder (unknown ones last)."""
    try:
        return EscalationLevel(level).rank
    except ValueError:
        return len(EscalationLevel)


def overview_charts(view: Overview, lang: Lang) -> list[Chart]:
    charts = [daily_chart(view, lang), engineer_chart(view, lang), contract_chart(view, lang)]
    if view.escalation_matrix:
        charts.append(escalation_chart(view, lang))
    return charts


def chart_data(chart: Chart) -> dict[str, Any]:
    """The options back as a dict (for tests and checks)."""
    parsed: dict[str, Any] = orjson.loads(chart.options)
    return parsed
