// Antena's only script: the page works without it. Loaded from our own origin, so the
// Content-Security-Policy needs no inline script.
document.addEventListener("click", function (event) {
  var link = event.target.closest && event.target.closest("[data-print]");
  if (link) {
    event.preventDefault();
    window.print();
  }
});
document.addEventListener("input", function (event) {
  // Nueva cuenta: "Tu cuenta será juan@kona" follows what is typed in Cuenta.
  var field = event.target;
  if (!field.matches || !field.matches("[data-handle-input]")) return;
  var shown = document.querySelector("[data-handle-preview]");
  if (!shown) return;
  var name = field.value.trim().toLowerCase().split("@")[0];
  shown.textContent = name || shown.getAttribute("data-handle-preview");
});
