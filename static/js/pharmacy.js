// Behaviour of every page. No page has a script of its own inline (the
// Content-Security-Policy allows scripts from our static files only): what a page needs
// is marked in its HTML with a data- attribute and handled here.

// Scanner-first pages: a field marked data-scan keeps the focus, so the next scan
// from a keyboard-wedge scanner always lands in it; a field marked data-focus (the
// count box of the lot just scanned) takes it instead.
function focusWorkField() {
  const field = document.querySelector("[data-focus]") || document.querySelector("[data-scan]");
  if (field) {
    field.focus();
    field.select();
  }
}
document.addEventListener("DOMContentLoaded", focusWorkField);
// Chromium takes the focus away when it scrolls to a #fragment after the page loaded.
window.addEventListener("load", () => {
  if (document.activeElement === document.body) {
    focusWorkField();
  }
});

document.addEventListener("click", (event) => {
  // A Print button.
  if (event.target.closest("[data-print]")) {
    window.print();
  }
  // A table row's Remove button (a line of a delivery being received): back to the scan.
  const remove = event.target.closest("[data-remove-row]");
  if (remove) {
    remove.closest("tr").remove();
    document.querySelector("[data-scan]")?.focus();
  }
});

// A "tick every row" box: ticks or unticks every row's box of its table.
document.addEventListener("change", (event) => {
  const all = event.target.closest("[data-check-all]");
  if (all) {
    all.closest("table").querySelectorAll("input[type=checkbox][name]").forEach((box) => {
      box.checked = all.checked;
    });
  }
});

// A scan form that htmx posts is emptied after each answer, ready for the next scan.
document.addEventListener("htmx:afterRequest", (event) => {
  const form = event.detail.elt;
  if (form.matches("form[data-reset-after-request]")) {
    form.reset();
    form.querySelector("[data-scan]")?.focus();
  }
});

// A table that refreshes itself waits while someone works in it (a note being typed
// would be swapped away).
document.addEventListener("htmx:beforeRequest", (event) => {
  const element = event.detail.elt;
  if (element.matches("[data-poll-unless-focused]") && element.contains(document.activeElement)) {
    event.preventDefault();
  }
});
