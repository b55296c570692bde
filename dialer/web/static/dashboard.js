// The campaign dashboard: reads /api/dashboard for the filters in the address bar and
// draws it with Chart.js (vendored in /static/vendor). Sets window.dashboardDrawn and
// window.dashboardReport when every chart is on the page (the tests and the benchmark
// wait for it). Days and hours are the logged-in user's time zone, which the page names
// (data-tz of the filters form), never the browser's own.
(function () {
  "use strict";
  var PALETTE = ["#2857c5", "#e8710a", "#0a8f5b", "#c5221f", "#7b3fc4", "#00838f",
                 "#b06000", "#5f6368", "#d01884", "#188038", "#1a73e8", "#a142f4"];
  var charts = {};
  var form = document.getElementById("filters");
  var tz = form.dataset.tz || "UTC";
  if (window.Chart) { Chart.defaults.animation = false; Chart.defaults.maintainAspectRatio = false; }

  function params() {
    var q = new URLSearchParams(location.search);
    ["campaign", "compare", "start", "end", "disposition"].forEach(function (k) {
      var el = form.elements[k];
      if (q.get(k) !== null) el.value = q.get(k);
    });
    var out = new URLSearchParams();
    ["campaign", "compare", "start", "end", "disposition"].forEach(function (k) {
      if (form.elements[k].value) out.set(k, form.elements[k].value);
    });
    out.set("tz", tz);
    return out;
  }

  function fmt(value, kind) {
    if (value === null || value === undefined) return "–";
    if (kind === "%") return (value * 100).toFixed(1) + " %";
    if (kind === "s") return value.toFixed(1) + " s";
    if (kind === "ms") return Math.round(value) + " ms";
    return String(value);
  }

  function draw(id, config) {
    if (charts[id]) charts[id].destroy();
    charts[id] = new Chart(document.getElementById(id), config);
  }

  function bar(id, labels, datasets, opts) {
    opts = opts || {};
    draw(id, {type: "bar", data: {labels: labels, datasets: datasets},
              options: {indexAxis: opts.horizontal ? "y" : "x",
                        plugins: {legend: {display: datasets.length > 1}},
                        scales: {x: {stacked: !!opts.stacked}, y: {stacked: !!opts.stacked,
                                 beginAtZero: true}}}});
  }

  function heatmap(h) {
    var table = document.getElementById("heatmap");
    var max = 1;
    h.dialed.forEach(function (row) { row.forEach(function (v) { if (v > max) max = v; }); });
    var head = "<tr><th></th>" + h.hours.map(function (x) { return "<th>" + x + "</th>"; }).join("") + "</tr>";
    table.tHead.innerHTML = head;
    var body = table.tBodies[0];
    body.innerHTML = "";
    h.days.forEach(function (day, d) {
      var tr = document.createElement("tr");
      var th = document.createElement("th");
      th.textContent = day;
      tr.appendChild(th);
      h.hours.forEach(function (hour, i) {
        var n = h.dialed[d][i], a = h.answered[d][i];
        var td = document.createElement("td");
        td.dataset.count = n;
        td.dataset.day = day;
        td.dataset.hour = hour;
        td.textContent = n ? n : "";
        td.style.background = n ? "rgba(40, 87, 197, " + (0.12 + 0.88 * n / max).toFixed(3) + ")" : "";
        if (n / max > 0.55) td.style.color = "#fff";
        td.title = day + " " + hour + ":00 — " + n + " dialed, " + a + " answered" +
                   (n ? " (" + Math.round(100 * a / n) + " %)" : "");
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
  }

  function render(r) {
    document.getElementById("title").textContent = r.campaign.name;
    document.querySelectorAll("[data-metric]").forEach(function (el) {
      el.textContent = fmt(r.metrics[el.dataset.metric], el.dataset.kind);
      el.dataset.value = r.metrics[el.dataset.metric] === null ? "" : r.metrics[el.dataset.metric];
    });
    bar("chart-funnel", r.funnel.map(function (f) { return f.stage; }),
        [{label: "calls", data: r.funnel.map(function (f) { return f.count; }),
          backgroundColor: PALETTE[0]}]);
    var series = Object.keys(r.over_time.series);
    bar("chart-over-time", r.over_time.labels, series.map(function (name, i) {
      return {label: name, data: r.over_time.series[name],
              backgroundColor: PALETTE[i % PALETTE.length]};
    }), {stacked: true});
    bar("chart-intents", r.intents.map(function (x) { return x.intent; }),
        [{label: "customer turns", data: r.intents.map(function (x) { return x.count; }),
          backgroundColor: PALETTE[2]}], {horizontal: true});
    bar("chart-drop-off", r.drop_off.map(function (x) { return x.node; }),
        [{label: "calls ended here", data: r.drop_off.map(function (x) { return x.count; }),
          backgroundColor: PALETTE[1]}], {horizontal: true});
    bar("chart-latency", r.latency.labels,
        [{label: "turns", data: r.latency.counts, backgroundColor: PALETTE[4]}]);
    heatmap(r.heatmap);
    var box = document.getElementById("compare-box");
    box.hidden = !r.compare;
    if (r.compare) {
      bar("chart-compare", r.funnel.map(function (f) { return f.stage; }), [
        {label: r.campaign.name, data: r.funnel.map(function (f) { return f.count; }),
         backgroundColor: PALETTE[0]},
        {label: r.compare.campaign.name, data: r.compare.funnel.map(function (f) { return f.count; }),
         backgroundColor: PALETTE[1]}]);
      document.getElementById("cmp-a").textContent = r.campaign.name;
      document.getElementById("cmp-b").textContent = r.compare.campaign.name;
      var tbody = document.querySelector("#compare-table tbody");
      tbody.innerHTML = "";
      document.querySelectorAll("[data-metric]").forEach(function (el) {
        var key = el.dataset.metric, tr = document.createElement("tr");
        tr.dataset.metric = key;
        [key, fmt(r.metrics[key], el.dataset.kind), fmt(r.compare.metrics[key], el.dataset.kind)]
          .forEach(function (text, i) {
            var td = document.createElement("td");
            td.textContent = text;
            if (i) td.className = "num";
            tr.appendChild(td);
          });
        tbody.appendChild(tr);
      });
    }
  }

  function load() {
    var q = params();
    var url = "/api/dashboard?" + q.toString();
    document.getElementById("json-link").href = url;
    document.getElementById("loading").hidden = false;
    window.dashboardDrawn = false;
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) {
        return r.json().then(function (body) {
          if (!r.ok) throw new Error(body.detail || r.statusText);
          return body;
        });
      })
      .then(function (report) {
        document.getElementById("error").hidden = true;
        render(report);
        document.getElementById("board").hidden = false;
        window.dashboardReport = report;
        window.dashboardDrawn = true;
      })
      .catch(function (err) {
        var box = document.getElementById("error");
        box.textContent = err.message || String(err);
        box.hidden = false;
      })
      .finally(function () { document.getElementById("loading").hidden = true; });
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var q = params();
    q.delete("tz");
    history.pushState(null, "", "/dashboard" + (q.toString() ? "?" + q.toString() : ""));
    load();
  });
  window.addEventListener("popstate", load);
  load();
})();
