// A campaign's page: fetch the advice on the script's NLU examples (cross-validation
// takes a few seconds the first time) and list it. Ours, served from /static.
(function () {
  var card = document.getElementById("nlu-advice");
  if (!card) return;
  var status = card.querySelector(".status-line");
  var list = card.querySelector("ul");
  var table = card.querySelector("tbody");
  fetch(card.getAttribute("data-url"), { credentials: "same-origin" })
    .then(function (r) {
      if (!r.ok) throw new Error("the server answered " + r.status);
      return r.json();
    })
    .then(function (advice) {
      if (advice.error) { status.textContent = advice.error; return; }
      var accuracy = advice.cross_validation.accuracy;
      Object.keys(accuracy).forEach(function (intent) {
        var row = document.createElement("tr");
        var name = document.createElement("td");
        name.textContent = intent;
        var cell = document.createElement("td");
        cell.className = "num";
        cell.textContent = Math.round(100 * accuracy[intent]) + " %";
        row.appendChild(name);
        row.appendChild(cell);
        table.appendChild(row);
      });
      advice.advice.forEach(function (line) {
        var item = document.createElement("li");
        item.textContent = line;
        list.appendChild(item);
      });
      status.textContent = advice.advice.length
        ? advice.advice.length + " suggestion(s) to help the robot understand callees:"
        : "No advice: every intent has enough distinct examples, each read right when held out.";
    })
    .catch(function (e) { status.textContent = "The advice could not be fetched: " + e.message; });
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
    document.getElementById("live-text").textContent = p.done + " of " + p.total +
      " contacts done, " + p.in_progress + " in progress, " + p.pending + " waiting.";
    var body = card.querySelector("#outcomes tbody"), rows = [];
    p.outcomes.forEach(function (o) { rows.push(row(o, p.total)); });
    body.textContent = "";
    rows.forEach(function (r) { body.appendChild(r); });
    document.getElementById("outcomes-empty").hidden = p.outcomes.length > 0;
    if (p.status !== "running") {
      document.getElementById("live-note").textContent =
        "The campaign is " + p.status + ": reload the page for its controls.";
      return false;
    }
    return true;
  }
  function poll() {
    fetch(url, {credentials: "same-origin"}).then(function (r) {
      if (!r.ok) throw new Error("the server answered " + r.status);
      return r.json();
    }).then(function (p) {
      if (show(p)) setTimeout(poll, 5000);
    }).catch(function () { setTimeout(poll, 15000); });
  }
  setTimeout(poll, 5000);
})();
