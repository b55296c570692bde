// The call explorer's search: its days are the browser's own unless the link names a zone.
(function () {
  var el = document.getElementById("tz");
  if (el && !new URLSearchParams(location.search).get("tz"))
    el.value = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
})();
