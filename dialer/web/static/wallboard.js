// The wallboard: every number is replaced from the server's pushed snapshots
// (/api/wallboard/events, server-sent events). window.wallboardUpdates counts them.
// The clock is the user's time zone's (data-tz on #updated), on 24 hours.
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

  function show(board) {
    document.querySelectorAll("[data-board]").forEach(function (el) {
      var v = get(board, el.dataset.board);
      if (v === undefined && el.dataset.board.indexOf("agents.") === 0) v = 0;
      el.dataset.value = v == null ? "" : v;
      if (v == null) { el.textContent = "–"; return; }
      if (el.dataset.kind === "%") el.textContent = (100 * v).toFixed(1) + " %";
      else if (el.dataset.kind === "clock") {
        var s = Math.floor(v);
        el.textContent = Math.floor(s / 60) + ":" + (s % 60 < 10 ? "0" : "") + (s % 60);
      } else el.textContent = String(v);
    });
    var rate = board.last_15_min.abandon_rate;
    document.getElementById("abandon-tile").classList.toggle("alarm", rate !== null && rate > 0.03);
    document.getElementById("acd-note").hidden = board.acd;
    updated.textContent = "live · " + clock.format(new Date(board.at));
    window.wallboardUpdates += 1;
    window.wallboardLast = board;
  }

  var source = new EventSource("/api/wallboard/events");
  source.onmessage = function (e) {
    document.getElementById("error").hidden = true;
    show(JSON.parse(e.data));
  };
  source.onerror = function () {
    var box = document.getElementById("error");
    box.textContent = "Lost the live feed; reconnecting…";
    box.hidden = false;
  };
})();
