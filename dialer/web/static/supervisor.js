// The supervisor's floor: every agent's state and every handed-off call, pushed as it
// changes; listen to a call, whisper to its agent, or barge in, from one's own phone.
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var view = {agents: [], calls: [], stats: {}, skew: 0};
  // The codes the queue sends, in the reader's words (each text literal, so it is
  // translated: dialer/web/locale/ko/).
  var AGENT_STATES = {offline: T("offline"), not_ready: T("not ready"), ready: T("ready"),
                      offered: T("offered"), on_call: T("on call"), wrap_up: T("wrap up")};
  var REASONS = {"logged in": T("logged in"), "break": T("break"), lunch: T("lunch"),
                 meeting: T("meeting"), training: T("training"),
                 "rejected offer": T("rejected offer"), "missed offer": T("missed offer"),
                 other: T("other")};
  var CALL_STATES = {waiting: T("waiting"), offered: T("offered"), connected: T("connected")};
  var MODES = {listen: T("listen"), whisper: T("whisper"), barge: T("barge")};
  function say(words, code) { return code ? words[code] || String(code) : ""; }

  function refresh(ev) {
    if (ev && ev.type === "lost") { $("unreachable").hidden = false; return; }
    return ACD.request("GET", "/api/supervisor/state").then(function (data) {
      $("unreachable").hidden = true;
      view = data;
      view.skew = data.server_time - Date.now() / 1000;
      render();
    }).catch(function (err) {
      if (err.status === 503) $("unreachable").hidden = false;
      ACD.showError(err);
    });
  }

  // Callers waiting while no agent is ready: nobody will be offered them.
  function alarm() {
    var waiting = view.calls.filter(function (c) { return c.state === "waiting"; }).length;
    var ready = view.agents.filter(function (a) { return a.state === "ready"; }).length;
    var box = $("nobody-ready");
    box.hidden = !(waiting && !ready);
    box.textContent = waiting === 1
      ? T("A caller is waiting and no agent is ready.")
      : T("{n} callers are waiting and no agent is ready.", {n: waiting});
  }

  function render() {
    var body = $("agents").tBodies[0];
    body.textContent = "";
    view.agents.forEach(function (a) {
      var row = document.createElement("tr");
      row.dataset.agent = a.id;
      row.dataset.state = a.state;
      ACD.cell(row, a.name || a.id);
      ACD.cell(row, say(AGENT_STATES, a.state), "state").dataset.state = a.state;
      ACD.cell(row, say(REASONS, a.reason));
      ACD.cell(row, "", "num since").dataset.since = a.since;
      ACD.cell(row, a.call);
      ACD.cell(row, a.sip_uri);
      body.appendChild(row);
    });
    $("agents-empty").hidden = view.agents.length > 0;
    body = $("calls").tBodies[0];
    body.textContent = "";
    view.calls.forEach(function (c) {
      var row = document.createElement("tr");
      row.dataset.call = c.id;
      ACD.cell(row, c.id);
      ACD.cell(row, (c.info || {}).campaign);
      ACD.cell(row, ACD.who(c.info));
      ACD.cell(row, say(CALL_STATES, c.state));
      ACD.cell(row, c.agent);
      ACD.cell(row, "", "num since").dataset.since = c.queued_at;
      var last = (c.transcript || []).slice(-1)[0];
      ACD.cell(row, last ? last.text : "");
      var td = ACD.cell(row, "");
      if (c.state === "connected") {
        ["listen", "whisper", "barge"].forEach(function (mode) {
          var b = document.createElement("button");
          b.type = "button";
          b.textContent = MODES[mode] || mode;
          b.onclick = function () {
            ACD.showError(null);
            ACD.request("POST", "/api/supervisor/monitor", {call: c.id, mode: mode})
              .catch(ACD.showError);
          };
          td.appendChild(b);
        });
      }
      body.appendChild(row);
    });
    $("calls-empty").hidden = view.calls.length > 0;
    alarm();
    $("stats").textContent = Object.keys(view.stats).map(function (q) {
      var s = view.stats[q];
      return T("{queue}: {taken} taken by agents, {abandoned} abandoned",
               {queue: q, taken: s.accepted || 0, abandoned: s.abandoned || 0});
    }).join(" · ");
    tick();
  }

  function tick() {
    var now = Date.now() / 1000 + view.skew;
    document.querySelectorAll("td.since").forEach(function (td) {
      td.textContent = ACD.clock(now - parseFloat(td.dataset.since));
    });
  }
  setInterval(tick, 1000);
  ACD.listen(refresh, function (ev) {
    var row = document.querySelector("#calls tr[data-call='" + ev.call + "']");
    if (row) row.cells[6].textContent = ev.turn.text;
  });
  refresh();
})();
