// Scanner-first pages: a field marked data-scan keeps the focus, so the next scan
// from a keyboard-wedge scanner always lands in it.
document.addEventListener("DOMContentLoaded", () => {
  const scan = document.querySelector("[data-scan]");
  if (scan) {
    scan.focus();
    scan.select();
  }
});
