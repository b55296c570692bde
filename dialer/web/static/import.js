// Import progress: while the list is being read, ask the server every 700 ms and
// reload the page when the import has an outcome. The mapping step: when a column is
// chosen, ask the server for the first prompt as the first contact would hear it.
// Ours, served from /static.
(function () {
  var form = document.getElementById("mapping-form");
  if (form) {
    var shown = document.getElementById("prompt-preview");
    var missing = document.getElementById("mapping-missing");
    var asked = 0;
    form.addEventListener("change", function () {
      var query = new URLSearchParams();
      Array.prototype.forEach.call(form.querySelectorAll("select"), function (s) {
        query.append(s.name, s.value);
      });
      var mine = ++asked;
      fetch(form.getAttribute("data-preview") + "?" + query.toString(),
            {credentials: "same-origin"})
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (p) {
          if (!p || mine !== asked) return;  // an older answer, or the step is over
          shown.textContent = p.prompt || T("(the list has no contact to show)");
          missing.textContent = "";
          p.missing.forEach(function (m) {
            var li = document.createElement("li");
            li.textContent = m;
            missing.appendChild(li);
          });
          shown.setAttribute("data-updated", String(mine));
        }).catch(function () {});
    });
  }
  var box = document.getElementById("import");
  if (!box) return;
  var status = box.getAttribute("data-status");
  if (status !== "queued" && status !== "running") return;
  var url = box.getAttribute("data-url");
  function tick() {
    fetch(url, {credentials: "same-origin"}).then(function (r) { return r.json(); })
      .then(function (b) {
        // The words are the page's: it reloads when the import has an outcome.
        document.getElementById("import-status").textContent =
          b.status === "queued" ? T("Queued") : b.status === "running" ? T("Running") : b.status;
        document.getElementById("import-bar").style.width = Math.round(b.progress * 100) + "%";
        if (b.status === "queued" || b.status === "running") setTimeout(tick, 700);
        else window.location.reload();
      }).catch(function () { setTimeout(tick, 2000); });
  }
  setTimeout(tick, 300);
})();
