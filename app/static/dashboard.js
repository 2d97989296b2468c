/* Charts of the overview page (uPlot, served from app/static/vendor). Optional: the page reads
   fine without JavaScript. No inline script or style anywhere (Content-Security-Policy). */
(function () {
  "use strict";
  var block = document.getElementById("chart-data");
  if (!block || typeof window.uPlot === "undefined") { return; }
  var data;
  try { data = JSON.parse(block.textContent); } catch (e) { return; }
  var palette = ["#2457c5", "#1e7b34", "#b3261e", "#9a6700", "#6f42c1", "#0a7f86", "#5b6675"];

  function draw(elementId, chart, unit, step) {
    var el = document.getElementById(elementId);
    if (!el || !chart) { return; }
    var names = Object.keys(chart.series);
    var columns = [chart.x];
    var series = [{}];
    names.forEach(function (name, i) {
      columns.push(chart.series[name]);
      series.push({
        label: name, stroke: palette[i % palette.length], width: 2,
        fill: step ? palette[i % palette.length] + "14" : undefined,
        spanGaps: !step, points: { show: !step, size: 5 },
        value: function (u, v) { return v == null ? "—" : (Math.round(v) + (unit ? " " + unit : "")); }
      });
    });
    if (names.length === 0) {
      el.textContent = "No data in the last 24 hours.";
      el.className += " muted";
      return;
    }
    var width = Math.max(300, el.clientWidth || 480);
    var plot = new window.uPlot({
      width: width, height: 240, series: series,
      scales: { x: { time: true } },
      axes: [{}, { size: 72, values: function (u, vals) { return vals.map(function (v) { return v + (unit ? " " + unit : ""); }); } }],
      cursor: { drag: { x: false, y: false } }
    }, columns, el);
    window.addEventListener("resize", function () {
      plot.setSize({ width: Math.max(300, el.clientWidth), height: 240 });
    });
  }

  draw("chart-deliveries", data.deliveries, "", true);
  draw("chart-latency", data.latency, "ms", false);
}());
