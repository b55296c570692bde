// The campaign dashboard: reads /api/dashboard for the filters in the address bar and
// draws it with Chart.js (vendored in /static/vendor). Sets window.dashboardDrawn and
// window.dashboardReport when every chart is on the page (the tests and the benchmark
// wait for it). Days and hours are the logged-in user's time zone, which the page names
// (data-tz of the filters form), never the browser's own.
//
// The report keeps its codes (dispositions, intents, stages) in the charts' data, for the
// call explorer's filters a click opens; what people read comes from the report's `words`
// (in their language, with each disposition's fixed colour): axis ticks, legends,
// tooltips, the tables under each chart. A chart with nothing to show says "No data".
(function () {
  "use strict";
  var BAR = "#2857c5", OTHER = "#e8710a";  // charts of no disposition: campaign A, B
  var FIELDS = ["campaign", "compare", "start", "end", "disposition"];
  var charts = {};
  var form = document.getElementById("filters");
  var tz = form.dataset.tz || "UTC";
  var words = {dispositions: {}, intents: {}, stages: {}, metrics: {}, weekdays: {},
               nodes: {}, success: []};
  var shown = {};  // the filters of the report on screen
  if (window.Chart) { Chart.defaults.animation = false; Chart.defaults.maintainAspectRatio = false; }

  function params() {
    var q = new URLSearchParams(location.search);
    FIELDS.forEach(function (k) {
      var el = form.elements[k];
      el.value = (q.get(k) || "").slice(0, 40);  // an unknown value leaves the field empty
    });
    var out = new URLSearchParams();
    FIELDS.forEach(function (k) {
      if (form.elements[k].value) out.set(k, form.elements[k].value);
    });
    out.set("tz", tz);
    return out;
  }

  // A code of the report in words: `kind` is the table of words it belongs to
  // ("dispositions", "intents", "stages", "nodes"); other labels are said as they are.
  function say(code, kind) {
    var table = kind ? words[kind] || {} : {};
    var word = Object.prototype.hasOwnProperty.call(table, code) ? table[code] : null;
    if (word && typeof word === "object") word = word.word;  // a disposition: word, colour
    return typeof word === "string" && word ? word : String(code);
  }

  function number(v, digits) {
    return Number(v).toLocaleString(document.documentElement.lang || "en",
                                    {maximumFractionDigits: digits});
  }

  function fmt(value, kind) {
    if (value === null || value === undefined) return "–";
    if (kind === "%") return (value * 100).toFixed(1) + " %";
    if (kind === "s") return T("{n} s", {n: value.toFixed(1)});
    if (kind === "ms") return Math.round(value) + " ms";
    return String(value);
  }

  function difference(a, b, kind) {  // B − A, signed, in the metric's unit
    if (a === null || a === undefined || b === null || b === undefined) return "–";
    var d = b - a, text;
    if (kind === "%") text = T("{n} pp", {n: Math.abs(d * 100).toFixed(1)});
    else if (kind === "s") text = T("{n} s", {n: Math.abs(d).toFixed(1)});
    else if (kind === "ms") text = Math.abs(Math.round(d)) + " ms";
    else text = Number.isInteger(d) ? String(Math.abs(d)) : Math.abs(d).toFixed(2);
    if (!/[1-9]/.test(text)) return text;
    return (d > 0 ? "+" : "−") + text;
  }

  // /calls showing what a bar shows: the report's campaign, days and disposition, and more.
  function callsFor(extra) {
    var q = new URLSearchParams();
    ["campaign", "start", "end", "disposition"].forEach(function (k) {
      if (shown[k]) q.set(k, shown[k]);
    });
    Object.keys(extra).forEach(function (k) { q.set(k, extra[k]); });
    return "/calls?" + q.toString();
  }

  function stageLink(stage, campaign) {
    var extra = campaign ? {campaign: String(campaign)} : {};
    if (stage === "dialed") return callsFor(extra);
    if (stage !== "converted" || words.success.length !== 1) return null;
    if (shown.disposition && shown.disposition !== words.success[0]) return null;
    extra.disposition = words.success[0];
    return callsFor(extra);
  }

  function empty(id, nothing) {
    var canvas = document.getElementById(id);
    var note = document.querySelector('[data-empty="' + id + '"]');
    if (charts[id]) { charts[id].destroy(); delete charts[id]; }
    canvas.hidden = nothing;
    note.hidden = !nothing;
    return nothing;
  }

  // A bar chart of codes: opts.labels and opts.series name the words of its categories
  // and of its datasets; `link(datasetIndex, index)` is the address of a bar's calls.
  function bar(id, labels, datasets, opts) {
    if (empty(id, opts.nothing)) return;
    var count = {beginAtZero: true, stacked: !!opts.stacked,
                 ticks: {precision: 0}, title: {display: true, text: opts.unit}};
    var names = {stacked: !!opts.stacked, ticks: {autoSkip: true, callback: function (value) {
      return say(this.getLabelForValue(value), opts.labels);
    }}};
    var legendLabels = function (chart) {
      var items = Chart.defaults.plugins.legend.labels.generateLabels(chart);
      items.forEach(function (item) { item.text = say(item.text, opts.series); });
      return items;
    };
    var link = opts.link || function () { return null; };
    charts[id] = new Chart(document.getElementById(id), {
      type: "bar", data: {labels: labels, datasets: datasets},
      options: {
        indexAxis: opts.horizontal ? "y" : "x",
        scales: opts.horizontal ? {x: count, y: names} : {x: names, y: count},
        plugins: {
          legend: {display: datasets.length > 1, labels: {generateLabels: legendLabels}},
          tooltip: {callbacks: {
            title: function (items) { return say(items[0].label, opts.labels); },
            label: function (item) {
              return (datasets.length > 1 ? say(item.dataset.label, opts.series) + ": " : "") +
                     (opts.tip ? opts.tip(item) : item.formattedValue);
            },
            footer: function (items) {
              return link(items[0].datasetIndex, items[0].dataIndex)
                ? T("Click to list these calls.") : "";
            }}}},
        onHover: function (event, elements) {
          var on = elements.length && link(elements[0].datasetIndex, elements[0].index);
          if (event.native) event.native.target.style.cursor = on ? "pointer" : "default";
        },
        onClick: function (event, elements) {
          if (!elements.length) return;
          var to = link(elements[0].datasetIndex, elements[0].index);
          if (to) location.assign(to);
        }}});
  }

  // The text alternative of a chart: its numbers in the table under it, and in its label.
  function numbers(id, head, rows) {
    var table = document.querySelector('[data-numbers="' + id + '"]');
    var tr = document.createElement("tr");
    head.forEach(function (text, i) {
      var th = document.createElement("th");
      th.textContent = text;
      if (i) th.className = "num";
      tr.appendChild(th);
    });
    table.tHead.replaceChildren(tr);
    table.tBodies[0].replaceChildren.apply(table.tBodies[0], rows.map(function (row) {
      var line = document.createElement("tr");
      row.forEach(function (text, i) {
        var cell = document.createElement(i ? "td" : "th");
        cell.textContent = text;
        if (i) cell.className = "num";
        line.appendChild(cell);
      });
      return line;
    }));
    var canvas = document.getElementById(id);
    if (!canvas || canvas.tagName !== "CANVAS") return;
    var caption = canvas.closest("figure").querySelector("figcaption").textContent;
    canvas.setAttribute("aria-label", rows.length ? caption + ": " + rows.slice(0, 24).map(
      function (row) { return row[0] + " " + row.slice(1).join(" / "); }).join(", ")
      : caption + ": " + T("No data"));
  }

  function funnel(r) {
    var dialed = r.funnel[0].count;
    bar("chart-funnel", r.funnel.map(function (f) { return f.stage; }),
        [{label: "calls", data: r.funnel.map(function (f) { return f.count; }),
          backgroundColor: BAR}],
        {nothing: !dialed, unit: T("Number of calls"), labels: "stages",
         link: function (set, i) { return stageLink(r.funnel[i].stage); },
         tip: function (item) {
           return T("{n} calls ({p} % of those dialed)",
                    {n: item.raw, p: number(100 * item.raw / dialed, 1)});
         }});
    numbers("chart-funnel", [T("Stage"), T("Number of calls")], r.funnel.map(function (f) {
      return [say(f.stage, "stages"), String(f.count)];
    }));
  }

  function overTime(r) {
    var ot = r.over_time, codes = Object.keys(ot.series);
    bar("chart-over-time", ot.labels, codes.map(function (code) {
      var d = Object.prototype.hasOwnProperty.call(words.dispositions, code)
        ? words.dispositions[code] : {colour: "#667085"};
      return {label: code, data: ot.series[code], backgroundColor: d.colour};
    }), {stacked: true, nothing: !ot.labels.length, unit: T("Number of calls"),
         series: "dispositions",
         link: function (set, i) {
           var day = ot.labels[i].slice(0, 10), code = codes[set];
           if (code === "in progress") return null;  // the explorer lists ended calls
           return callsFor({disposition: code, start: day, end: day});
         }});
    numbers("chart-over-time", [T("Day")].concat(codes.map(function (c) {
      return say(c, "dispositions");
    })).concat([T("Total")]),
            ot.labels.map(function (label, i) {
              var n = codes.map(function (c) { return ot.series[c][i]; });
              return [label].concat(n.map(String)).concat(
                [String(n.reduce(function (a, b) { return a + b; }, 0))]);
            }));
  }

  function intents(r) {
    bar("chart-intents", r.intents.map(function (x) { return x.intent; }),
        [{label: "turns", data: r.intents.map(function (x) { return x.count; }),
          backgroundColor: BAR}],
        {horizontal: true, nothing: !r.intents.length, unit: T("Customer turns"),
         labels: "intents",
         link: function (set, i) {
           var code = r.intents[i].intent;
           return code === "(none)" ? null : callsFor({intent: code});
         }});
    numbers("chart-intents", [T("What the customer said"), T("Customer turns")],
            r.intents.map(function (x) { return [say(x.intent, "intents"), String(x.count)]; }));
  }

  function dropOff(r) {
    bar("chart-drop-off", r.drop_off.map(function (x) { return x.node; }),
        [{label: "calls", data: r.drop_off.map(function (x) { return x.count; }),
          backgroundColor: BAR}],
        {horizontal: true, nothing: !r.drop_off.length, unit: T("Number of calls"),
         labels: "nodes"});
    numbers("chart-drop-off", [T("Script step"), T("Number of calls"), T("How they ended")],
            r.drop_off.map(function (x) {
              return [say(x.node, "nodes"), String(x.count), Object.keys(x.dispositions).map(
                function (d) { return say(d, "dispositions") + " " + x.dispositions[d]; })
                .join(", ")];
            }));
  }

  function latency(r) {
    var total = r.latency.counts.reduce(function (a, b) { return a + b; }, 0);
    bar("chart-latency", r.latency.labels,
        [{label: "turns", data: r.latency.counts, backgroundColor: BAR}],
        {nothing: !total, unit: T("Customer turns")});
    var head = [T("Reply delay (ms)"), T("Customer turns")];
    numbers("chart-latency", head, r.latency.labels.map(function (label, i) {
      return [label, String(r.latency.counts[i])];
    }).filter(function (row) { return row[1] !== "0"; }));
  }

  function heatmap(h) {
    var table = document.getElementById("heatmap");
    var max = 0;
    h.dialed.forEach(function (row) { row.forEach(function (v) { if (v > max) max = v; }); });
    document.querySelector('[data-empty="heatmap"]').hidden = max > 0;
    table.hidden = max === 0;
    var head = document.createElement("tr");
    head.appendChild(document.createElement("th"));
    h.hours.forEach(function (hour) {
      var th = document.createElement("th");
      th.textContent = hour;
      head.appendChild(th);
    });
    table.tHead.replaceChildren(head);
    var body = table.tBodies[0];
    body.replaceChildren();
    h.days.forEach(function (day, d) {
      var tr = document.createElement("tr");
      var th = document.createElement("th");
      th.textContent = words.weekdays[day] || day;
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
        td.title = n ? T("{day} {hour}:00 — {n} dialed, {a} answered ({p} %)",
                         {day: th.textContent, hour: hour, n: n, a: a,
                          p: Math.round(100 * a / n)})
                     : T("{day} {hour}:00 — nothing dialed", {day: th.textContent, hour: hour});
        td.setAttribute("aria-label", td.title);  // a touch screen shows no title
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    // Each hour's answered share under its column, to read without hovering.
    var share = document.createElement("tr");
    share.className = "share";
    var label = document.createElement("th");
    label.textContent = T("Answered %");
    share.appendChild(label);
    h.hours.forEach(function (hour, i) {
      var n = 0, a = 0;
      h.days.forEach(function (day, d) { n += h.dialed[d][i]; a += h.answered[d][i]; });
      var td = document.createElement("td");
      td.dataset.hour = hour;
      td.textContent = n ? Math.round(100 * a / n) + "%" : "–";
      share.appendChild(td);
    });
    table.createTFoot().replaceChildren(share);
    numbers("heatmap-days", [T("Weekday"), T("Dialed"), T("Answered"), T("Answered share")],
            h.days.map(function (day, d) {
              var n = sum(h.dialed[d]), a = sum(h.answered[d]);
              return [words.weekdays[day] || day, String(n), String(a),
                      n ? Math.round(100 * a / n) + " %" : "–"];
            }));
  }

  function sum(values) { return values.reduce(function (a, b) { return a + b; }, 0); }

  function kpis(r) {
    document.querySelectorAll("#kpis [data-metric]").forEach(function (el) {
      var v = r.metrics[el.dataset.metric];
      el.textContent = fmt(v, el.dataset.kind);
      el.dataset.value = v === null || v === undefined ? "" : v;
    });
  }

  function compare(r) {
    var box = document.getElementById("compare-box");
    box.hidden = !r.compare;
    if (!r.compare) { empty("chart-compare", true); return; }
    var ids = [r.filters.campaign, r.compare.campaign.id];
    bar("chart-compare", r.funnel.map(function (f) { return f.stage; }), [
      {label: r.campaign.name, data: r.funnel.map(function (f) { return f.count; }),
       backgroundColor: BAR},
      {label: r.compare.campaign.name, data: r.compare.funnel.map(function (f) { return f.count; }),
       backgroundColor: OTHER}],
      {nothing: !(r.funnel[0].count || r.compare.funnel[0].count), unit: T("Number of calls"),
       labels: "stages",
       link: function (set, i) { return stageLink(r.funnel[i].stage, ids[set]); }});
    document.getElementById("cmp-a").textContent = "A: " + r.campaign.name;
    document.getElementById("cmp-b").textContent = "B: " + r.compare.campaign.name;
    var tbody = document.querySelector("#compare-table tbody");
    tbody.replaceChildren();
    document.querySelectorAll("#kpis [data-metric]").forEach(function (el) {
      var key = el.dataset.metric, kind = el.dataset.kind, tr = document.createElement("tr");
      var a = r.metrics[key], b = r.compare.metrics[key];
      tr.dataset.metric = key;
      [(words.metrics[key] || {}).label || "", fmt(a, kind), fmt(b, kind),
       difference(a, b, kind)].forEach(function (text, i) {
        var td = document.createElement("td");
        td.textContent = text;
        if (i) td.className = "num";
        if (i === 3) td.dataset.diff = key;
        tr.appendChild(td);
      });
      tbody.appendChild(tr);
    });
  }

  function render(r) {
    words = r.words || words;
    shown = r.filters || {};
    ["start", "end"].forEach(function (k) { if (shown[k]) shown[k] = String(shown[k]); });
    if (shown.campaign !== null && shown.campaign !== undefined) shown.campaign = String(shown.campaign);
    document.getElementById("title").textContent = r.campaign.name;
    document.getElementById("no-calls").hidden = r.metrics.attempts > 0;
    kpis(r);
    funnel(r);
    overTime(r);
    intents(r);
    dropOff(r);
    latency(r);
    heatmap(r.heatmap);
    compare(r);
  }

  function problem(status, body) {  // what a failed request means, in a sentence
    if (status === 404) return T("That campaign does not exist any more.");
    if (status === 401 || status === 403) return T("Your session has ended: log in again.");
    if (status === 400 && body && typeof body.detail === "string") return body.message || body.detail;
    if (status === 400 || status === 422) return T("These filters cannot be shown: check the campaign and the days.");
    return T("The dashboard could not be loaded. Try again in a moment.");
  }

  function load() {
    var q = params();
    var url = "/api/dashboard?" + q.toString();
    var box = document.getElementById("error");
    document.getElementById("json-link").href = url;
    window.dashboardDrawn = false;
    if (q.get("start") && q.get("end") && q.get("end") < q.get("start")) {
      box.textContent = T("The last day comes before the first: pick the days again.");
      box.hidden = false;
      return;
    }
    document.getElementById("loading").hidden = false;
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (r) {
        return r.json().catch(function () { return null; }).then(function (body) {
          if (!r.ok || !body) throw new Error(problem(r.status, body));
          return body;
        });
      }, function () { throw new Error(problem(0, null)); })
      .then(function (report) {
        document.getElementById("error").hidden = true;
        document.getElementById("board").hidden = false;  // sized before Chart.js measures
        render(report);
        window.dashboardReport = report;
        window.dashboardDrawn = true;
      })
      .catch(function (err) {
        box.textContent = err.message || T("The dashboard could not be loaded. Try again in a moment.");
        box.hidden = false;
      })
      .finally(function () { document.getElementById("loading").hidden = true; });
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var q = new URLSearchParams();
    FIELDS.forEach(function (k) { if (form.elements[k].value) q.set(k, form.elements[k].value); });
    history.pushState(null, "", "/dashboard" + (q.toString() ? "?" + q.toString() : ""));
    load();
  });
  window.addEventListener("popstate", load);
  load();
})();
