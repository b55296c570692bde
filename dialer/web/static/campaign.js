// A campaign's page: fetch the advice on the script's NLU examples (cross-validation
// takes a few seconds the first time) and list it. Ours, served from /static.
(function () {
  var card = document.getElementById("nlu-advice");
  if (!card) return;
  var status = card.querySelector(".status-line");
  var list = card.querySelector("ul");
  var table = card.querySelector("tbody");
  fetch(card.getAttribute("data-url"), { credentials: "same-origin" })
    .then(function (r) {
      if (!r.ok) throw new Error("the server answered " + r.status);
      return r.json();
    })
    .then(function (advice) {
      if (advice.error) { status.textContent = advice.error; return; }
      var accuracy = advice.cross_validation.accuracy;
      Object.keys(accuracy).forEach(function (intent) {
        var row = document.createElement("tr");
        var name = document.createElement("td");
        name.textContent = intent;
        var cell = document.createElement("td");
        cell.className = "num";
        cell.textContent = Math.round(100 * accuracy[intent]) + " %";
        row.appendChild(name);
        row.appendChild(cell);
        table.appendChild(row);
      });
      advice.advice.forEach(function (line) {
        var item = document.createElement("li");
        item.textContent = line;
        list.appendChild(item);
      });
      status.textContent = advice.advice.length
        ? advice.advice.length + " suggestion(s) to help the robot understand callees:"
        : "No advice: every intent has enough distinct examples, each read right when held out.";
    })
    .catch(function (e) { status.textContent = "The advice could not be fetched: " + e.message; });
})();
