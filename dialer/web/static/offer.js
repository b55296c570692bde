// How an offered call reaches an agent who is looking elsewhere: a ring tone (made here
// with Web Audio, no sound file), a desktop notification, the tab's title flashing, and
// the countdown the agent has to accept. All stop together when the offer ends.
var Offer = (function () {
  "use strict";
  var audio = null, ringing = null, flashing = null, note = null, callId = null;
  var title = document.title;

  // Browsers let a page make sound or ask for notifications only after the person has
  // clicked on it: each button of the console calls this.
  function unlock() {
    try {
      var Ctx = window.AudioContext || window.webkitAudioContext;
      if (!audio && Ctx) audio = new Ctx();
      if (audio && audio.state === "suspended") audio.resume();
    } catch (err) { audio = null; }
    if (window.Notification && Notification.permission === "default") {
      try { Notification.requestPermission(); } catch (err) { /* an old browser */ }
    }
  }

  function alertsOff() {
    return !window.Notification || Notification.permission !== "granted";
  }

  // One ring: two tones together for 0.8 s, softly faded in and out.
  function tone() {
    if (!audio) unlock();
    if (!audio) return;
    var t = audio.currentTime;
    [440, 480].forEach(function (hz) {
      var osc = audio.createOscillator(), gain = audio.createGain();
      osc.frequency.value = hz;
      gain.gain.setValueAtTime(0, t);
      gain.gain.linearRampToValueAtTime(0.12, t + 0.03);
      gain.gain.setValueAtTime(0.12, t + 0.8);
      gain.gain.linearRampToValueAtTime(0, t + 0.85);
      osc.connect(gain);
      gain.connect(audio.destination);
      osc.start(t);
      osc.stop(t + 0.9);
    });
  }

  function notify(id, headline, body) {
    if (alertsOff()) return;
    try {
      note = new Notification(headline, {body: body, tag: "offer-" + id,
                                         requireInteraction: true});
      note.onclick = function () { window.focus(); if (note) note.close(); };
    } catch (err) { note = null; }
  }

  // `call`: the call offered (its id and the screen pop's facts), `seconds`: to accept.
  function start(call, who, seconds) {
    if (callId === call.id) return;
    stop();
    callId = call.id;
    var info = call.info || {};
    var headline = T("Call offered: accept within {n} s", {n: Math.round(seconds)});
    var flash = "☎ " + T("Call offered") + " · " + title;
    document.title = flash;
    notify(call.id, headline, [who, info.campaign, info.why || info.reason].filter(Boolean).join(" · "));
    tone();
    ringing = setInterval(tone, 2000);
    var on = false;
    flashing = setInterval(function () {
      on = !on;
      document.title = on ? title : flash;
    }, 1000);
  }

  function stop() {
    if (ringing) clearInterval(ringing);
    if (flashing) clearInterval(flashing);
    ringing = flashing = null;
    callId = null;
    document.title = title;
    if (note) { try { note.close(); } catch (err) { /* already gone */ } }
    note = null;
  }

  return {unlock: unlock, start: start, stop: stop, alertsOff: alertsOff};
})();
