/*
 * Northwind's own page script (not part of mql-edge): the site has no backend, so a form submit
 * shows its thank-you message instead of posting. The mql-edge snippet still sees the submit: it
 * listens in the capture phase, before this handler runs.
 */
document.addEventListener("submit", function (e) {
  var form = e.target;
  if (!(form instanceof HTMLFormElement)) return;
  e.preventDefault();
  var thanks = form.parentElement && form.parentElement.querySelector("[data-thanks]");
  var name = form.elements.namedItem("name");
  if (thanks) {
    var first = name && name.value ? name.value.trim().split(/\s+/)[0] : "";
    if (first) thanks.querySelector("h3").textContent = "Thank you, " + first + "!";
    form.hidden = true;
    thanks.hidden = false;
  }
});
