// The wallboard: every number is replaced from the server's pushed snapshots
// (/api/wallboard/events, server-sent events). window.wallboardUpdates counts them.
// The clock is the user's time zone's (data-tz on #updated), on 24 hours; the words are
// the user's language's (T, static/i18n.js). Tiles over a threshold and the alarms come
// with each snapshot; a board whose snapshots stop says "stale" after 10 s.
(function () {
  "use strict";
  window.wallboardUpdates = 0;
  var updated = document.getElementById("updated");
  var clock;
  try {
    clock = new Intl.DateTimeFormat("en-GB", {timeZone: updated.dataset.tz || "UTC",
      hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23"});
  } catch (e) {  // a zone this browser does not know: UTC, said as such
    clock = {format: function (d) { return d.toISOString().slice(11, 19) + " UTC"; }};
  }

  function get(obj, path) {
    return path.split(".").reduce(function (o, k) { return o == null ? undefined : o[k]; }, obj);
  }

  // The alarms' sentences, by the codes the server sends (routes/wallboard.py).
  var ALARMS = {
    nobody_ready: T("Callers are waiting and no agent is ready."),
    long_wait: T("A caller has waited over a minute."),
    abandon_rate: T("The abandon rate is at the legal limit (3 %).")
  };
  var STALE_MS = 10000;  // three snapshots missed
  var lastAt = Date.now(), lastClock = updated.textContent;
  var box = document.getElementById("board");

  function show(board) {
    var acdUnknown = board.acd_state === "down";
    document.querySelectorAll("[data-board]").forEach(function (el) {
      var v = get(board, el.dataset.board);
      if (v === undefined && el.dataset.board.indexOf("agents.") === 0 && !acdUnknown) v = 0;
      el.dataset.value = v == null ? "" : v;
      if (v == null) { el.textContent = "–"; return; }
      if (el.dataset.kind === "%") el.textContent = (100 * v).toFixed(1) + " %";
      else if (el.dataset.kind === "clock") {
        var s = Math.floor(v);
        el.textContent = Math.floor(s / 60) + ":" + (s % 60 < 10 ? "0" : "") + (s % 60);
      } else el.textContent = String(v);
    });
    var levels = board.levels || {};
    document.querySelectorAll("[data-tile]").forEach(function (li) {
      li.classList.toggle("warn", levels[li.dataset.tile] === "warn");
      li.classList.toggle("alarm", levels[li.dataset.tile] === "alarm");
    });
    var list = document.getElementById("alarms");
    list.textContent = "";
    (board.alarms || []).forEach(function (code) {
      var li = document.createElement("li");
      li.dataset.alarm = code;
      li.textContent = ALARMS[code] || code;
      list.appendChild(li);
    });
    document.getElementById("acd-note").hidden = !acdUnknown;
    box.dataset.acd = board.acd_state;
    lastClock = clock.format(new Date(board.at));
    updated.textContent = acdUnknown
      ? T("without the call queue · {time}", {time: lastClock})
      : T("live · {time}", {time: lastClock});
    lastAt = Date.now();
    box.classList.remove("stale");
    window.wallboardUpdates += 1;
    window.wallboardLast = board;
  }

  // Numbers that stopped coming are not "live": said, and greyed out.
  setInterval(function () {
    if (Date.now() - lastAt < STALE_MS || box.classList.contains("stale")) return;
    box.classList.add("stale");
    updated.textContent = T("stale: last update {time}", {time: lastClock});
  }, 1000);

  var full = document.getElementById("full-screen");
  full.hidden = !document.fullscreenEnabled;
  full.onclick = function () {
    if (document.fullscreenElement) document.exitFullscreen();
    else box.requestFullscreen().catch(function () { full.hidden = true; });
  };

  var source = new EventSource("/api/wallboard/events");
  source.onmessage = function (e) {
    document.getElementById("error").hidden = true;
    show(JSON.parse(e.data));
  };
  source.onerror = function () {
    var err = document.getElementById("error");
    err.textContent = T("Lost the live feed; reconnecting…");
    err.hidden = false;
  };
})();
