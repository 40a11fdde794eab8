// Keyboard help for the explorer: "/" focuses search; j/k move between rows or
// timeline steps; Enter on a focused row opens its first link. Times show in local time.
(function () {
  "use strict";
  function items() { return Array.prototype.slice.call(document.querySelectorAll("[data-nav]")); }
  var current = -1;
  function focusItem(index) {
    var list = items();
    if (!list.length) { return; }
    current = Math.max(0, Math.min(index, list.length - 1));
    list.forEach(function (el) { el.classList.remove("nav-focus"); });
    var el = list[current];
    el.classList.add("nav-focus");
    var link = el.querySelector("a");
    (el.tagName === "TR" && link ? link : el).focus();
    el.scrollIntoView({ block: "nearest" });
  }
  document.addEventListener("keydown", function (event) {
    var tag = (event.target.tagName || "").toLowerCase();
    if (tag === "input" || tag === "select" || tag === "textarea" || event.ctrlKey || event.metaKey || event.altKey) {
      return;
    }
    if (event.key === "/") {
      event.preventDefault();
      var search = document.getElementById("search-call-id");
      if (search) { search.focus(); search.select(); }
    } else if (event.key === "j") {
      focusItem(current + 1);
    } else if (event.key === "k") {
      focusItem(current - 1);
    } else if (event.key === "Enter" && current >= 0) {
      var link = items()[current].querySelector("a");
      if (link && document.activeElement !== link) { link.click(); }
    }
  });
  document.querySelectorAll("time[datetime]").forEach(function (el) {
    var when = new Date(el.getAttribute("datetime"));
    if (!isNaN(when)) { el.title = el.textContent; el.textContent = when.toLocaleString(); }
  });
})();
