/* jijiao: the dashboard's charts (考核统计). The figures come from the page as JSON in
   <script type="application/json"> blocks (data, never executed), the labels too, so that the
   charts speak the page's language; the tables beside the charts carry the same numbers. */
(function () {
  "use strict";
  var FONT = "\"Noto Sans CJK SC\", \"Source Han Sans SC\", \"PingFang SC\", \"Microsoft YaHei\", sans-serif";

  function readJSON(id) {
    var el = document.getElementById(id);
    if (!el) { return null; }
    try { return JSON.parse(el.textContent); } catch (e) { return null; }
  }

  function base(title) {
    return {
      animation: false,
      textStyle: {fontFamily: FONT},
      title: {text: title, left: "center", textStyle: {fontFamily: FONT, fontSize: 14}},
      tooltip: {trigger: "axis", axisPointer: {type: "shadow"}, textStyle: {fontFamily: FONT}},
      grid: {left: 8, right: 16, top: 56, bottom: 8, containLabel: true}
    };
  }

  function shorten(name) {
    return name.length > 10 ? name.slice(0, 10) + "…" : name;
  }

  // Schools of one district often share their names' beginning (the city and district): the axis shows
  // what tells them apart, the tooltip and the table the full name.
  function distinct(names) {
    if (names.length < 2) { return names.slice(); }
    var prefix = names[0];
    names.forEach(function (n) {
      while (prefix && n.indexOf(prefix) !== 0) { prefix = prefix.slice(0, -1); }
    });
    if (prefix.length < 2 || names.some(function (n) { return n.length - prefix.length < 2; })) {
      return names.slice();
    }
    return names.map(function (n) { return n.slice(prefix.length); });
  }

  function schoolsOption(d, t, horizontal) {
    // One bar per school: its pass rate (the counts are in the table and the tooltip).
    var o = base(t.schools);
    o.tooltip.formatter = function (params) {
      // ECharts shows a formatter's string as HTML: every name is escaped.
      var esc = window.echarts.format.encodeHTML, i = params[0].dataIndex;
      return esc(d.names[i]) + "<br>" + esc(t.rate) + " " + d.rates[i] + "<br>" + esc(t.passed) + " " +
        d.passed[i] + " · " + esc(t.failed) + " " + d.failed[i];
    };
    var category = {type: "category", data: distinct(d.names), axisLabel: {fontFamily: FONT, interval: 0, formatter: shorten}};
    var rate = {type: "value", name: t.rate, min: 0, max: 100, nameTextStyle: {fontFamily: FONT},
                axisLabel: {fontFamily: FONT}};
    if (horizontal) {
      category.inverse = true;
      o.yAxis = category;
      o.xAxis = rate;
      o.grid.right = 56;
      o.grid.top = 64;
    } else {
      category.axisLabel.rotate = d.names.length > 4 ? 30 : 0;
      o.xAxis = category;
      o.yAxis = rate;
    }
    o.series = [{name: t.rate, type: "bar", data: d.rates, barMaxWidth: 48, itemStyle: {color: "#007bff"},
      label: {show: true, position: horizontal ? "right" : "top", fontFamily: FONT, formatter: "{c}%"}}];
    return o;
  }

  function itemsOption(d, t) {
    var o = base(t.items);
    o.yAxis = {type: "category", data: d.names, inverse: true,
               axisLabel: {fontFamily: FONT, interval: 0, formatter: function (v) { return v.length > 10 ? v.slice(0, 10) + "…" : v; }}};
    o.xAxis = {type: "value", name: t.amount, nameTextStyle: {fontFamily: FONT}, axisLabel: {fontFamily: FONT}};
    o.grid.top = 40;
    o.grid.right = 72;
    o.series = [{name: t.amount, type: "bar", data: d.amounts, itemStyle: {color: "#17a2b8"},
                 label: {show: true, position: "right", fontFamily: FONT,
                         formatter: function (p) { return p.value + " " + (d.units[p.dataIndex] || ""); }}}];
    return o;
  }

  function draw(id, option, rows) {
    var el = document.getElementById(id);
    if (!el || !window.echarts) { return null; }
    if (rows) { el.style.height = Math.max(220, Math.min(1600, 110 + rows * 44)) + "px"; }
    var chart = window.echarts.init(el, null, {renderer: "canvas"});
    chart.setOption(option);
    el.setAttribute("data-drawn", "1");
    return chart;
  }

  function empty(id, text) {
    var el = document.getElementById(id);
    if (!el) { return; }
    el.style.height = "auto";
    el.classList.add("text-muted");
    el.textContent = text;
  }

  function fileLabels() {
    // Bootstrap's custom file input shows the chosen file's name in its label.
    document.querySelectorAll(".custom-file-input").forEach(function (input) {
      input.addEventListener("change", function () {
        var label = input.parentNode.querySelector(".custom-file-label");
        if (label && input.files && input.files.length) { label.textContent = input.files[0].name; }
      });
    });
  }

  function start() {
    fileLabels();
    var d = readJSON("jj-dashboard-data");
    var t = readJSON("jj-dashboard-text");
    if (!d || !t) { return; }
    var narrow = window.innerWidth < 576;
    var charts = [];
    if (d.schools.names.length) {
      var horizontal = narrow || d.schools.names.length > 6;
      charts.push(draw("jj-chart-schools", schoolsOption(d.schools, t, horizontal),
                       horizontal ? d.schools.names.length : 0));
    } else { empty("jj-chart-schools", t.empty); }
    if (d.items.names.length) {
      charts.push(draw("jj-chart-items", itemsOption(d.items, t), d.items.names.length));
    } else { empty("jj-chart-items", t.empty); }
    charts = charts.filter(Boolean);
    window.jjCharts = charts;
    window.addEventListener("resize", function () { charts.forEach(function (c) { c.resize(); }); });
  }

  if (document.readyState !== "loading") { start(); } else { document.addEventListener("DOMContentLoaded", start); }
})();
