// The ticket's "Print" button (hidden until this script runs, so that a page without
// scripts offers no button that does nothing).
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });
});
