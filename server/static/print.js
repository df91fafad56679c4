// The household file printed (or saved as PDF by the browser's print dialog): every folded section opened first,
// so the paper holds the whole file. No inline script: the page's CSP allows this file only.
(function () {
  "use strict";
  function unfold() {
    Array.prototype.forEach.call(document.querySelectorAll("details"), function (d) { d.open = true; });
  }
  window.addEventListener("beforeprint", unfold);
  Array.prototype.forEach.call(document.querySelectorAll("[data-print]"), function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { unfold(); window.print(); });
  });
})();
