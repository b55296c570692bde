// A campaign's page: fetch the advice on the script's NLU examples (cross-validation
// takes a few seconds the first time) and list it. Ours, served from /static.
(function () {
  var card = document.getElementById("nlu-advice");
  if (!card) return;
  var status = card.querySelector(".status-line");
  var list = card.querySelector("ul");
  var table = card.querySelector("tbody");
  var words = {};  // the intents' words in the page's language (campaign.html)
  try {
    words = JSON.parse((document.getElementById("intent-words") || {}).textContent || "{}");
  } catch (err) { words = {}; }
  function said(intent) {  // a script's own intent: its name in words
    var plain = String(intent).replace(/_/g, " ");
    return words[intent] || plain.charAt(0).toUpperCase() + plain.slice(1);
  }
  // The advice in the page's language, built from its parts (the API's `advice` lines
  // are the command line's English, for people editing nlu.yml).
  function sentences(advice) {
    var out = ((advice.said && advice.said.data_warnings) || advice.data_warnings || []).slice();
    (advice.few_examples || []).forEach(function (f) {
      out.push(T("“{intent}” has {n} examples: write 8 or more, in the words callees use.",
                 {intent: said(f.intent), n: f.examples}));
    });
    (advice.similar || []).forEach(function (s) {
      out.push(T("“{a}” ({a_intent}) and “{b}” ({b_intent}) mean nearly the same: keep them under one intent, or reword one.",
                 {a: s.a, a_intent: said(s.a_intent), b: s.b, b_intent: said(s.b_intent)}));
    });
    (advice.cross_validation.misses || []).forEach(function (m) {
      var read = m.predicted === "nlu_fallback" ? T("not understood") : said(m.predicted);
      out.push(T("“{example}” ({intent}, {where}) was read as “{read}” by a model trained without it: add examples like it to “{intent}”.",
                 {example: m.text, intent: said(m.intent), where: m.source, read: read}));
    });
    return out;
  }

  fetch(card.getAttribute("data-url"), { credentials: "same-origin" })
    .then(function (r) {
      if (!r.ok) throw new Error(T("the server answered {status}", {status: r.status}));
      return r.json();
    })
    .then(function (advice) {
      if (advice.error) {
        status.textContent = (advice.said && advice.said.error) || advice.error;
        return;
      }
      var accuracy = advice.cross_validation.accuracy;
      Object.keys(accuracy).forEach(function (intent) {
        var row = document.createElement("tr");
        var name = document.createElement("td");
        name.textContent = said(intent);
        var cell = document.createElement("td");
        cell.className = "num";
        cell.textContent = Math.round(100 * accuracy[intent]) + " %";
        row.appendChild(name);
        row.appendChild(cell);
        table.appendChild(row);
      });
      var lines = sentences(advice);
      lines.forEach(function (line) {
        var item = document.createElement("li");
        item.textContent = line;
        list.appendChild(item);
      });
      status.textContent = lines.length
        ? T("{n} suggestion(s) to help the robot understand callees:", {n: lines.length})
        : T("No advice: every intent has enough distinct examples, each read right when held out.");
    })
    .catch(function (e) {
      status.textContent = T("The advice could not be fetched: {why}", {why: e.message});
    });
})();

// The progress card of a running campaign, kept current: its figures every 5 s.
(function () {
  "use strict";
  var card = document.getElementById("live");
  if (!card || card.getAttribute("data-status") !== "running") return;
  var url = card.getAttribute("data-url");
  function row(o, total) {
    var tr = document.createElement("tr"), name = document.createElement("td");
    tr.setAttribute("data-code", o.code);
    var swatch = document.createElement("span"), link = document.createElement("a");
    swatch.className = "swatch";
    swatch.style.background = o.colour;
    link.href = "/calls?campaign=" + encodeURIComponent(url.split("/")[3]) +
      "&disposition=" + encodeURIComponent(o.code);
    link.textContent = o.label;
    name.appendChild(swatch); name.appendChild(link); tr.appendChild(name);
    var n = document.createElement("td");
    n.className = "num"; n.textContent = o.count; tr.appendChild(n);
    var cell = document.createElement("td"), share = document.createElement("span");
    cell.className = "bar-cell"; share.className = "share";
    share.style.width = (total ? 100 * o.count / total : 0) + "%";
    share.style.background = swatch.style.background;
    cell.appendChild(share); tr.appendChild(cell);
    return tr;
  }
  function show(p) {
    document.getElementById("live-bar").style.width =
      (p.total ? 100 * p.done / p.total : 0) + "%";
    document.getElementById("live-text").textContent = T(
      "{done} of {total} contacts done, {in_progress} in progress, {pending} waiting.",
      {done: p.done, total: p.total, in_progress: p.in_progress, pending: p.pending});
    var body = card.querySelector("#outcomes tbody"), rows = [];
    p.outcomes.forEach(function (o) { rows.push(row(o, p.total)); });
    body.textContent = "";
    rows.forEach(function (r) { body.appendChild(r); });
    document.getElementById("outcomes-empty").hidden = p.outcomes.length > 0;
    if (p.status !== "running") {
      document.getElementById("live-note").textContent = T(
        "The campaign is no longer running: reload the page for its controls.");
      return false;
    }
    return true;
  }
  function poll() {
    fetch(url, {credentials: "same-origin"}).then(function (r) {
      if (!r.ok) throw new Error(T("the server answered {status}", {status: r.status}));
      return r.json();
    }).then(function (p) {
      if (show(p)) setTimeout(poll, 5000);
    }).catch(function () { setTimeout(poll, 15000); });
  }
  setTimeout(poll, 5000);
})();
