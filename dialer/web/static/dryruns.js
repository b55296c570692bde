// Dry-runs: while one is under way, look again every 3 s (the server renders the
// progress and, at the end, the report). Ours, served from /static.
(function () {
  if (!document.querySelector("section.dry-run[data-under-way='1']")) return;
  setTimeout(function () { window.location.reload(); }, 3000);
})();
