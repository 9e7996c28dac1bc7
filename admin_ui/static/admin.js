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

    // One row menu open at a time, closed by a click elsewhere or Escape.
    var menus = Array.prototype.slice.call(document.querySelectorAll("details.row-menu"));
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

    // Bulk selection: at most data-max users; "select all" takes the first ones shown.
    var all = document.getElementById("select-all");
    var boxes = Array.prototype.slice.call(document.querySelectorAll("input.row-check"));
    var counter = document.querySelector("[data-testid=bulk-count]");
    if (!all || !counter) { return; }
    var max = parseInt(all.getAttribute("data-max"), 10) || 200;
    function refresh() {
      var n = boxes.filter(function (b) { return b.checked; }).length;
      counter.textContent = counter.getAttribute("data-template").replace("__N__", n);
      boxes.forEach(function (b) { b.disabled = !b.checked && n >= max; });
      all.checked = n > 0 && n === Math.min(max, boxes.length);
    }
    all.addEventListener("change", function () {
      var on = all.checked;
      boxes.forEach(function (b, i) { b.checked = on && i < max; });
      refresh();
    });
    boxes.forEach(function (b) { b.addEventListener("change", refresh); });
    refresh();
  });
})();
