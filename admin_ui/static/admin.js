// Progressive enhancement only: every page works without it.
(function () {
  "use strict";

  // Tell the server the browser's time zone (IANA name), unless the admin chose one. Set on
  // the first page (sign-in), so every page after it shows the admin's local times; no reload,
  // which could resubmit a form.
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone && document.cookie.indexOf("admin_tz=") === -1) {
      document.cookie = "admin_tz=" + encodeURIComponent(zone) + "; path=/admin; max-age=31536000; samesite=lax";
    }
  } catch (e) { /* no Intl: dates stay in UTC */ }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      select.addEventListener("change", function () { select.form.submit(); });
    });

    // One menu (row ⋯ or type badge) open at a time, closed by a click elsewhere or Escape.
    var menus = Array.prototype.slice.call(document.querySelectorAll("details.row-menu, details.type-menu"));
    menus.forEach(function (menu) {
      menu.addEventListener("toggle", function () {
        if (menu.open) { menus.forEach(function (m) { if (m !== menu) { m.open = false; } }); }
      });
    });
    document.addEventListener("click", function (event) {
      menus.forEach(function (m) { if (m.open && !m.contains(event.target)) { m.open = false; } });
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape") { menus.forEach(function (m) { m.open = false; }); }
    });

    // Bulk selection. Rows are ticked one by one (at most data-max), or "select all" takes
    // the first data-max users of the list's filter across pages: the form then sends
    // scope=filter and the server resolves which users. The bar shows once something is
    // selected (without this script it is always there, with its own "first users" box).
    var all = document.getElementById("select-all");
    var scope = document.getElementById("bulk-scope");
    var panel = document.querySelector("[data-testid=bulk-panel]");
    var boxes = Array.prototype.slice.call(document.querySelectorAll("input.row-check"));
    var counter = document.querySelector("[data-testid=bulk-count]");
    if (!all || !counter || !scope || !panel) { return; }
    all.hidden = false;
    var max = parseInt(all.getAttribute("data-max"), 10) || 200;
    var filterCount = parseInt(all.getAttribute("data-filter-count"), 10) || 0;
    function refresh() {
      var ticked = boxes.filter(function (b) { return b.checked; }).length;
      var n = scope.checked ? filterCount : ticked;
      counter.textContent = counter.getAttribute("data-template").replace("__N__", n);
      boxes.forEach(function (b) { b.disabled = !scope.checked && !b.checked && ticked >= max; });
      all.checked = scope.checked;
      panel.classList.toggle("is-idle", n === 0 && !panel.querySelector(".notice"));
    }
    function selectFilter(on) {
      scope.checked = on && filterCount > 0;
      boxes.forEach(function (b, i) { b.checked = scope.checked && i < max; });
      refresh();
    }
    all.addEventListener("change", function () { selectFilter(all.checked); });
    scope.addEventListener("change", function () { selectFilter(scope.checked); });
    boxes.forEach(function (b) {
      b.addEventListener("change", function () {
        // Unticking one row leaves "the first users of the filter" for a choice of rows.
        if (scope.checked && !b.checked) { scope.checked = false; }
        refresh();
      });
    });
    refresh();
  });
})();
