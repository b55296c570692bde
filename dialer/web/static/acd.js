// Shared by the agent console and the supervisor page: JSON calls with the session's
// CSRF token, the ACD's server-sent events, and small DOM helpers. Ours, from /static.
var ACD = (function () {
  "use strict";
  var csrf = (document.querySelector("[data-csrf]") || {dataset: {}}).dataset.csrf;

  function request(method, url, body) {
    var opts = {method: method, headers: {"Accept": "application/json"},
                credentials: "same-origin"};
    if (body !== undefined) {
      opts.headers["Content-Type"] = "application/json";
      opts.body = JSON.stringify(body);
    }
    if (method !== "GET") opts.headers["X-CSRF-Token"] = csrf;
    return fetch(url, opts).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (!r.ok) {
          var err = new Error(data.message || data.detail || (r.status + " " + r.statusText));
          err.status = r.status;
          throw err;
        }
        return data;
      });
    });
  }

  // Every ACD change arrives here as it happens; `onChange` is called at most once
  // per 100 ms for bursts, `onTranscript` for each new line of a transcript. When the
  // stream breaks (the queue's Redis away, the server restarting) `onChange` gets
  // {type: "lost"} and the stream is opened again every few seconds until it answers
  // (a browser gives up on its own after an error status), then {type: "open"}.
  function listen(onChange, onTranscript) {
    var pending = null, lost = false;
    function open() {
      var source = new EventSource("/api/acd/events");
      source.onmessage = function (e) {
        var ev;
        try { ev = JSON.parse(e.data); } catch (err) { return; }
        if (ev.type === "transcript" && onTranscript) { onTranscript(ev); return; }
        if (pending) return;
        pending = setTimeout(function () { pending = null; onChange(ev); }, 100);
      };
      source.onopen = function () {
        var was = lost;
        lost = false;
        onChange({type: "open", recovered: was});
      };
      source.onerror = function () {
        if (!lost) { lost = true; onChange({type: "lost"}); }
        if (source.readyState === EventSource.CLOSED) setTimeout(open, 3000);
      };
    }
    open();
  }

  function clock(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    var m = Math.floor(seconds / 60), s = seconds % 60;
    return m + ":" + (s < 10 ? "0" : "") + s;
  }

  function cell(row, text, cls) {
    var td = document.createElement("td");
    td.textContent = text == null ? "" : String(text);
    if (cls) td.className = cls;
    row.appendChild(td);
    return td;
  }

  function showError(err) {
    var box = document.getElementById("error");
    if (!box) return;
    box.textContent = err ? (err.message || String(err)) : "";
    box.hidden = !err;
  }

  function who(info) {
    var fields = (info && info.fields) || {};
    return (fields.name ? fields.name + " " : "") + ((info && info.phone) || "");
  }

  return {request: request, listen: listen, clock: clock, cell: cell, showError: showError,
          who: who};
})();
