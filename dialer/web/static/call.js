// A call's page: a click (or Enter) on a transcript line plays the recording from that
// turn. Each line carries its time from the answer (data-offset-ms), where the recording
// starts. window.callSeeks counts the seeks.
(function () {
  "use strict";
  var audio = document.getElementById("recording");
  var table = document.getElementById("transcript");
  window.callSeeks = 0;
  if (!audio || !table) return;
  var rows = table.querySelectorAll("tbody tr[data-offset-ms]");
  rows.forEach(function (row) {
    row.tabIndex = 0;
    row.title = T("Play the recording from here");
    row.style.cursor = "pointer";
  });

  function seek(row) {
    var ms = Number(row.dataset.offsetMs);
    if (!isFinite(ms) || ms < 0) return;
    audio.currentTime = ms / 1000;
    rows.forEach(function (r) { r.removeAttribute("aria-current"); r.style.outline = ""; });
    row.setAttribute("aria-current", "true");
    row.style.outline = "2px solid #2e90fa";
    var playing = audio.play();
    if (playing && playing.catch) playing.catch(function () { /* the browser said no */ });
    window.callSeeks += 1;
  }

  table.addEventListener("click", function (e) {
    var row = e.target.closest("tr[data-offset-ms]");
    if (row && !e.target.closest("a, button")) seek(row);
  });
  table.addEventListener("keydown", function (e) {
    var row = e.target.closest("tr[data-offset-ms]");
    if (row && e.key === "Enter") { e.preventDefault(); seek(row); }
  });
})();
