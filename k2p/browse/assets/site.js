// k2p browse: list-view filter. Uses textContent only; never builds HTML from data.
(function () {
  "use strict";
  function setupList() {
    var table = document.getElementById("card-list");
    if (!table) return;
    var input = document.getElementById("list-filter");
    var archived = document.getElementById("show-archived");
    var count = document.getElementById("list-count");
    var rows = Array.prototype.slice.call(table.tBodies[0].rows);
    var texts = rows.map(function (row) { return row.textContent.toLowerCase(); });
    function apply() {
      var q = (input.value || "").toLowerCase().trim();
      var shown = 0;
      for (var i = 0; i < rows.length; i++) {
        var visible = (archived.checked || !rows[i].classList.contains("archived")) && (!q || texts[i].indexOf(q) !== -1);
        rows[i].hidden = !visible;
        if (visible) shown++;
      }
      count.textContent = shown + " of " + rows.length + " cards";
    }
    input.addEventListener("input", apply);
    archived.addEventListener("change", apply);
    apply();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setupList);
  else setupList();
})();
