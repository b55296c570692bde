// Import progress: while the list is being read, ask the server every 700 ms and
// reload the page when the import has an outcome. Ours, served from /static.
(function () {
  var box = document.getElementById("import");
  if (!box) return;
  var status = box.getAttribute("data-status");
  if (status !== "queued" && status !== "running") return;
  var url = box.getAttribute("data-url");
  function tick() {
    fetch(url, {credentials: "same-origin"}).then(function (r) { return r.json(); })
      .then(function (b) {
        document.getElementById("import-status").textContent = b.status;
        document.getElementById("import-bar").style.width = Math.round(b.progress * 100) + "%";
        if (b.status === "queued" || b.status === "running") setTimeout(tick, 700);
        else window.location.reload();
      }).catch(function () { setTimeout(tick, 2000); });
  }
  setTimeout(tick, 300);
})();
