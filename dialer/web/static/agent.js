// The agent console: presence buttons, the queue, the screen pop of the call offered
// (contact, campaign, why it was handed off, the transcript growing live), accept or
// reject (with a ring, a desktop notification and a countdown: offer.js), and the
// disposition form with the wrap-up clock, whose typing is never lost: it is kept per call
// in the tab's session storage until the server has saved it. Updated by server-sent
// events, which carry only this agent's own changes and call (and a bare "queue" nudge).
// Keys: Alt+A accept, Alt+R reject, Alt+Y ready, Alt+N not ready.
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var view = {agent: {state: "offline"}, current: null, waiting: [], skew: 0, offer_s: 15};
  var shownCall = null, shownSeqs = {};
  // Where this agent last stood at the queue, as the server confirmed it: after the
  // queue comes back empty (its Redis restarted) the console puts them back there.
  var PRESENCE = "dialer.agent.presence";
  var lostQueue = false;
  // Bumped each time the queue is found gone: an answer to a request sent before that
  // says nothing about now (it would put a green "ready" back over the outage).
  var outages = 0;

  function remember(agent) {
    if (["ready", "not_ready", "wrap_up"].indexOf(agent.state) >= 0) {
      sessionStorage.setItem(PRESENCE, JSON.stringify({
        ready: agent.state === "ready", reason: agent.reason || "",
        auto_accept: $("auto-accept").checked}));
    } else if (agent.state === "offline") {
      sessionStorage.removeItem(PRESENCE);
    }
  }

  function unreachable(yes) {
    lostQueue = yes;
    $("unreachable").hidden = !yes;
    if (yes) { outages += 1; view.agent = {state: "unreachable"}; render(); }
  }

  function refresh(ev) {
    if (ev && ev.type === "lost") { unreachable(true); return Promise.resolve(); }
    var restoring = ev && ev.recovered, sentIn = outages;
    return ACD.request("GET", "/api/agent/state").then(function (data) {
      if (sentIn !== outages) return;  // asked before the queue went away
      unreachable(false);
      var before = JSON.parse(sessionStorage.getItem(PRESENCE) || "null");
      if (restoring && before && data.agent.state === "offline") return restore(before);
      view = data;
      view.skew = data.server_time - Date.now() / 1000;
      remember(view.agent);
      render();
    }).catch(function (err) {
      if (lostQueue || (ev && ev.recovered) || err.status === 503) unreachable(true);
      if (err.status !== 503) ACD.showError(err);  // the banner says it, in words
    });
  }

  function restore(before) {
    $("auto-accept").checked = !!before.auto_accept;
    var back = ACD.request("POST", "/api/agent/login", {auto_accept: !!before.auto_accept});
    back = before.ready
      ? back.then(function () { return ACD.request("POST", "/api/agent/ready"); })
      : back.then(function () {
        return ACD.request("POST", "/api/agent/not-ready",
                           {reason: before.reason || "logged in"});
      });
    return back.then(function () {
      $("restored").hidden = false;
      return refresh();
    }).catch(ACD.showError);
  }

  // `presence`: the answer is the agent's new state at the queue, remembered even when
  // the queue goes away before the console's next look (it is what they chose).
  function act(url, body, presence) {
    ACD.showError(null);
    $("restored").hidden = true;
    return ACD.request("POST", url, body || {}).then(function (agent) {
      if (presence && agent && agent.state) remember(agent);
      return refresh();
    }).catch(ACD.showError);
  }

  function render() {
    var a = view.agent, state = a.state || "offline";
    var away = ["offline", "offered", "on_call", "unreachable"];
    $("state").textContent = T(state.replace("_", " "));
    $("state").dataset.state = state;
    $("reason").textContent = a.reason ? "(" + T(a.reason) + ")" : "";
    $("login").hidden = state !== "offline";
    $("ready").disabled = away.indexOf(state) >= 0;
    $("not-ready").disabled = away.indexOf(state) >= 0;
    $("logout").hidden = away.indexOf(state) >= 0;
    $("alerts-off").hidden = state === "offline" || state === "unreachable" || !Offer.alertsOff();
    if (state === "offered" && view.current) {
      Offer.start(view.current, ACD.who(view.current.info), offerLeft());
    } else {
      Offer.stop();
    }
    renderPop(state);
    renderQueue();
    tick();
  }

  function renderPop(state) {
    var call = view.current;
    var pop = $("pop");
    if (!call || ["offered", "on_call", "wrap_up"].indexOf(state) < 0) {
      pop.hidden = true;
      $("wrap-up").hidden = true;
      return;
    }
    pop.hidden = false;
    pop.dataset.call = call.id;
    pop.dataset.state = state;
    $("pop-title").textContent = {offered: T("Call offered"), on_call: T("On the call"),
                                  wrap_up: T("Call ended")}[state];
    $("offer-actions").hidden = state !== "offered";
    $("offer-clock").hidden = state !== "offered";
    var info = call.info || {}, facts = $("facts");
    facts.textContent = "";
    var rows = [[T("Customer"), ACD.who(info)], [T("Campaign"), info.campaign],
                [T("Why a person"), info.why || info.reason], [T("Attempt"), info.attempt_no]];
    Object.keys(info.fields || {}).forEach(function (k) {
      if (k !== "name") rows.push([k, info.fields[k]]);
    });
    var intents = (call.transcript || []).filter(function (t) { return t.intent; })
      .map(function (t) { return t.intent_words || t.intent; });
    rows.push([T("The customer"), intents.join(" → ")]);
    rows.forEach(function (r) {
      if (r[1] === undefined || r[1] === null || r[1] === "") return;
      var dt = document.createElement("dt"), dd = document.createElement("dd");
      dt.textContent = r[0]; dd.textContent = String(r[1]);
      facts.appendChild(dt); facts.appendChild(dd);
    });
    if (shownCall !== call.id) {
      shownCall = call.id;
      shownSeqs = {};
      $("transcript").tBodies[0].textContent = "";
    }
    (call.transcript || []).forEach(addLine);
    var wrapping = state === "wrap_up";
    if (wrapping && $("wrap-up").hidden) Wrap.show(call.id);
    $("wrap-up").hidden = !wrapping;
  }

  function addLine(t) {
    var key = t.seq + ":" + t.speaker;
    if (shownSeqs[key]) return;
    shownSeqs[key] = true;
    var row = document.createElement("tr");
    row.className = t.speaker;
    ACD.cell(row, {bot: T("Robot"), customer: T("Customer"), agent: T("Agent")}[t.speaker] ||
             t.speaker);
    ACD.cell(row, t.text);
    var meant = t.intent_words || t.intent;
    ACD.cell(row, meant ? meant + (t.confidence ? " (" + Math.round(100 * t.confidence) + " %)" : "") : "");
    $("transcript").tBodies[0].appendChild(row);
  }

  // The queue without whose calls they are: those are for the agent offered each one.
  function renderQueue() {
    var body = $("queue").tBodies[0];
    body.textContent = "";
    var waiting = view.waiting || [];
    waiting.forEach(function (c) {
      var row = document.createElement("tr");
      ACD.cell(row, c.position || "");
      ACD.cell(row, c.queue);
      var w = ACD.cell(row, "", "num waited");
      w.dataset.queuedAt = c.queued_at;
      ACD.cell(row, T(c.state));
      body.appendChild(row);
    });
    $("queue-empty").hidden = waiting.length > 0;
  }

  function tick() {
    var now = Date.now() / 1000 + view.skew;
    document.querySelectorAll("#queue td.waited").forEach(function (td) {
      td.textContent = ACD.clock(now - parseFloat(td.dataset.queuedAt));
    });
    var a = view.agent;
    $("since").textContent = a.since ? T("for {time}", {time: ACD.clock(now - a.since)}) : "";
    if (a.state === "wrap_up") $("wrap-clock").textContent = ACD.clock(now - a.since);
    if (a.state === "offered") {
      var left = offerLeft();
      $("offer-left").textContent = Math.ceil(left);
      $("offer-bar").style.width = Math.round(100 * left / (view.offer_s || 15)) + "%";
    }
  }

  // Seconds left to accept the offer on screen (the server's clock, its offer time).
  function offerLeft() {
    var now = Date.now() / 1000 + view.skew;
    return Math.max(0, (view.offer_s || 15) - (now - (view.agent.since || now)));
  }
  setInterval(tick, 1000);  // the clocks only: the data itself is pushed

  document.querySelectorAll("#presence button, #offer-actions button").forEach(function (b) {
    b.addEventListener("click", Offer.unlock);
  });
  $("allow-alerts").onclick = function () {
    Offer.unlock();
    setTimeout(render, 1000);  // the browser's question answered, or not
  };
  $("login").onclick = function () {
    act("/api/agent/login", {auto_accept: $("auto-accept").checked}, true);
  };
  $("ready").onclick = function () { act("/api/agent/ready", {}, true); };
  $("not-ready").onclick = function () {
    act("/api/agent/not-ready", {reason: $("not-ready-reason").value}, true);
  };
  $("logout").onclick = function () {
    sessionStorage.removeItem(PRESENCE);  // left on purpose: not to be restored
    act("/api/agent/logout", {}, true);
  };
  $("accept").onclick = function () { act("/api/agent/accept", {call: shownCall}); };
  $("reject").onclick = function () { act("/api/agent/reject", {call: shownCall}); };
  // Logging out of the site is leaving on purpose: not to be put back after an outage.
  var leave = document.querySelector("form.who");
  if (leave) leave.addEventListener("submit", function () {
    sessionStorage.removeItem(PRESENCE);
    Offer.stop();
  });

  // The wrap-up form: a required outcome, a callback time in the agent's own zone, and
  // what was typed kept until the server has it (a refused save keeps every field).
  var Wrap = (function () {
    var FIELDS = ["outcome", "notes", "callback-at"];
    function key(call) { return "dialer.agent.wrap." + call; }
    function show(call) {
      var kept = JSON.parse(sessionStorage.getItem(key(call)) || "null") || {};
      FIELDS.forEach(function (f) { $(f).value = kept[f] || ""; });
      $("wrap-error").hidden = true;
    }
    function keep() {
      if (!shownCall) return;
      var draft = {};
      FIELDS.forEach(function (f) { draft[f] = $(f).value; });
      sessionStorage.setItem(key(shownCall), JSON.stringify(draft));
    }
    function refuse(message, field) {
      $("wrap-error").textContent = message;
      $("wrap-error").hidden = false;
      if (field) $(field).focus();
    }
    function submit(goReady) {
      var outcome = $("outcome").value, when = $("callback-at").value;
      if (!outcome) return refuse(T("Choose the call's outcome before saving."), "outcome");
      if (outcome === "callback" && !when) {
        return refuse(T("A callback needs the time you agreed with the customer."),
                      "callback-at");
      }
      if (outcome !== "callback" && when) {
        return refuse(T("Only a callback has a time: clear it, or choose callback."),
                      "callback-at");
      }
      keep();
      $("wrap-error").hidden = true;
      var call = shownCall;
      return ACD.request("POST", "/api/agent/disposition", {
        call: call, outcome: outcome, notes: $("notes").value,
        callback_at: when ? new Date(when).toISOString() : null, ready: goReady,
        not_ready_reason: goReady ? null : $("wrap-reason").value
      }).then(function (agent) {
        sessionStorage.removeItem(key(call));
        FIELDS.forEach(function (f) { $(f).value = ""; });
        if (agent && agent.state) remember(agent);
        return refresh();
      }).catch(function (err) { refuse(err.message || String(err)); });
    }
    FIELDS.forEach(function (f) { $(f).addEventListener("input", keep); });
    $("outcome").addEventListener("change", keep);
    $("callback-zone").textContent =
      Intl.DateTimeFormat().resolvedOptions().timeZone || "local";
    return {show: show, submit: submit};
  })();
  $("disposition").onsubmit = function (e) {
    e.preventDefault();
    var button = e.submitter || document.activeElement;
    Wrap.submit(!(button && button.id === "save-away"));
  };

  // Shortcuts work on whatever keyboard layout (a Korean one too): the key's place.
  var KEYS = {KeyA: "accept", KeyR: "reject", KeyY: "ready", KeyN: "not-ready"};
  document.addEventListener("keydown", function (e) {
    if (!e.altKey || e.ctrlKey || e.metaKey || !KEYS[e.code]) return;
    var button = $(KEYS[e.code]);
    var shown = button.offsetParent !== null && !button.disabled;
    e.preventDefault();
    if (shown) { Offer.unlock(); button.click(); }
  });

  ACD.listen(refresh, function (ev) {
    if (ev.call === shownCall) addLine(ev.turn);
  });
  refresh();
})();
