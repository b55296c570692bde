// The words of this app's scripts in the user's language: the page hands them over in
// <script type="application/json" id="i18n"> (dialer/web/i18n.py), English is the key.
// Placeholders in braces ({n}) are filled from the second argument.
var T = (function () {
  "use strict";
  var table = {};
  try {
    table = JSON.parse((document.getElementById("i18n") || {}).textContent || "{}");
  } catch (err) { table = {}; }
  return function (text, values) {
    var own = Object.prototype.hasOwnProperty.call(table, text);
    var out = own && typeof table[text] === "string" ? table[text] : text;
    if (!values) return out;
    return out.replace(/\{(\w+)\}/g, function (whole, key) {
      return Object.prototype.hasOwnProperty.call(values, key) ? String(values[key]) : whole;
    });
  };
})();
