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
  // A refresh replaces the panels: free the charts drawn in what is replaced (ECharts keeps
  // every instance in a registry until it is disposed).
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (typeof echarts === "undefined" || !event.detail.target) return;
    event.detail.target.querySelectorAll(".chart").forEach(function (el) {
      const chart = echarts.getInstanceByDom(el);
      if (chart) chart.dispose();
    });
  });

  // htmx does not swap an error response: say so, rather than leave old figures unmarked.
  document.addEventListener("htmx:responseError", function (event) {
    const target = event.detail.target;
    if (!target || target.querySelector(".stale-note")) return;
    const note = document.createElement("p");
    note.className = "stale-note error";
    note.setAttribute("role", "alert");
    note.textContent = document.body.dataset.stale || "";
    target.classList.add("stale");
    target.prepend(note);
  });
  document.addEventListener("htmx:sendError", function (event) {
    document.dispatchEvent(new CustomEvent("htmx:responseError", { detail: event.detail }));
  });

  window.addEventListener("resize", function () {
    document.querySelectorAll(".chart").forEach(function (el) {
      const chart = typeof echarts === "undefined" ? null : echarts.getInstanceByDom(el);
      if (chart) chart.resize();
    });
  });
})();
