// The dashboard's behaviour: draw the charts from their embedded options, turn a click on a
// chart element into the list behind it, and count down to the at-risk due times.
(function () {
  "use strict";

  function drillUrl(panels, drill, params) {
    const query = new URLSearchParams(panels ? panels.dataset.fq : "");
    if (drill.by) {
      const shown = drill.values ? drill.values[params.dataIndex] : params.name;
      query.set(drill.by, shown === "—" ? "" : shown);
    }
    const series = drill["series:" + params.seriesName];
    if (drill.series && series) query.set(drill.series, series);
    return "/dashboard/list?" + query.toString();
  }

  function drawCharts(root) {
    if (typeof echarts === "undefined") return;
    root.querySelectorAll(".chart").forEach(function (el) {
      const source = document.getElementById(el.id + "-options");
      if (!source || el.dataset.drawn === "true") return;
      const chart = echarts.init(el, null, { renderer: "canvas" });
      chart.setOption(JSON.parse(source.textContent));
      const drill = JSON.parse(el.dataset.drill || "{}");
      if (drill.by) {
        chart.on("click", function (params) {
          const url = drillUrl(document.getElementById("panels"), drill, params);
          htmx.ajax("GET", url, { target: "#list", swap: "outerHTML" });
        });
      }
      el.dataset.drawn = "true";
    });
  }

  function pad(n) { return String(n).padStart(2, "0"); }

  // The server's "now" when the panel was made, against this browser's clock: countdowns
  // run on the ledger's clock (a skewed browser clock, or a ledger with a fixed clock, as
  // in the demo, would otherwise count to the wrong instant).
  let offset = 0;
  function syncClock() {
    const panels = document.getElementById("panels");
    if (panels && panels.dataset.now) offset = Date.parse(panels.dataset.now) - Date.now();
  }

  function tick() {
    const now = Date.now() + offset;
    document.querySelectorAll(".countdown").forEach(function (el) {
      const left = Math.round((Date.parse(el.dataset.due) - now) / 1000);
      const abs = Math.abs(left);
      const text = Math.floor(abs / 3600) + ":" + pad(Math.floor(abs / 60) % 60) + ":" + pad(abs % 60);
      el.textContent = left < 0 ? "-" + text : text;
      el.classList.toggle("late", left < 0);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    drawCharts(document);
    syncClock();
    tick();
    setInterval(tick, 1000);
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    drawCharts(document);
    syncClock();
    tick();
    const list = document.getElementById("list");
    if (list && event.detail.requestConfig && event.detail.requestConfig.path.indexOf("/dashboard/list") === 0) {
      list.scrollIntoView({ behavior: "smooth", block: "start" });
    }
  });
  window.addEventListener("resize", function () {
    document.querySelectorAll(".chart").forEach(function (el) {
      const chart = typeof echarts === "undefined" ? null : echarts.getInstanceByDom(el);
      if (chart) chart.resize();
    });
  });
})();
