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
    return name.length > 8 ? name.slice(0, 8) + "…" : name;
  }

  function schoolsOption(d, t, narrow) {
    var o = base(t.schools);
    o.legend = {top: 26, textStyle: {fontFamily: FONT}, data: [t.passed, t.failed, t.rate]};
    var names = d.names;
    var category = {type: "category", data: names,
                    axisLabel: {fontFamily: FONT, interval: 0, formatter: shorten}};
    var count = {type: "value", name: t.people, minInterval: 1, nameTextStyle: {fontFamily: FONT},
                 axisLabel: {fontFamily: FONT}};
    var rate = {type: "value", name: t.rate, min: 0, max: 100, nameTextStyle: {fontFamily: FONT},
                axisLabel: {fontFamily: FONT}, splitLine: {show: false}};
    if (narrow || names.length > 6) {
      // Horizontal bars: long school names stay readable on a phone.
      category.inverse = true;
      o.yAxis = category;
      o.xAxis = [count, rate];
      rate.position = "top";
      count.position = "bottom";
      o.grid.top = 80;
    } else {
      category.axisLabel.rotate = names.length > 3 ? 30 : 0;
      o.xAxis = category;
      o.yAxis = [count, rate];
    }
    var horizontal = !!o.yAxis.data;
    var rateAxis = horizontal ? {xAxisIndex: 1} : {yAxisIndex: 1};
    o.series = [
      {name: t.passed, type: "bar", stack: "n", data: d.passed, itemStyle: {color: "#28a745"}},
      {name: t.failed, type: "bar", stack: "n", data: d.failed, itemStyle: {color: "#dc3545"}},
      Object.assign({name: t.rate, type: "line", data: d.rates, symbolSize: 8, itemStyle: {color: "#007bff"},
                     label: {show: true, fontFamily: FONT, formatter: "{c}%"}}, rateAxis)
    ];
    return o;
  }

  function itemsOption(d, t) {
    var o = base(t.items);
    o.yAxis = {type: "category", data: d.names, inverse: true,
               axisLabel: {fontFamily: FONT, interval: 0, formatter: function (v) { return v.length > 10 ? v.slice(0, 10) + "…" : v; }}};
    o.xAxis = {type: "value", name: t.amount, nameTextStyle: {fontFamily: FONT}, axisLabel: {fontFamily: FONT}};
    o.grid.top = 40;
    o.series = [{name: t.amount, type: "bar", data: d.amounts, itemStyle: {color: "#17a2b8"},
                 label: {show: true, position: "right", fontFamily: FONT,
                         formatter: function (p) { return p.value + " " + (d.units[p.dataIndex] || ""); }}}];
    return o;
  }

  function draw(id, option, rows) {
    var el = document.getElementById(id);
    if (!el || !window.echarts) { return null; }
    if (rows > 6) { el.style.height = Math.min(1600, 120 + rows * 36) + "px"; }
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

  function start() {
    var d = readJSON("jj-dashboard-data");
    var t = readJSON("jj-dashboard-text");
    if (!d || !t) { return; }
    var narrow = window.innerWidth < 576;
    var charts = [];
    if (d.schools.names.length) {
      charts.push(draw("jj-chart-schools", schoolsOption(d.schools, t, narrow),
                       (narrow || d.schools.names.length > 6) ? d.schools.names.length : 0));
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
