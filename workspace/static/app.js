// Keyboard shortcuts of the match review: l link, n don't link, s skip, u undo.
// Ignored while typing in a field, so a reason can contain those letters.
(function () {
  "use strict";
  var keys = { l: "btn-link", n: "btn-nolink", s: "btn-skip", u: "btn-undo" };
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    var target = event.target;
    if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT" || target.isContentEditable)) return;
    var id = keys[event.key];
    if (!id) return;
    var button = document.getElementById(id);
    if (button) {
      event.preventDefault();
      button.click();
    }
  });
})();
