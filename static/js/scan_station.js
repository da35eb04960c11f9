// The fill station and PV2: the scan field keeps the focus, so the next scan from a
// keyboard-wedge scanner never lands anywhere else. A click on the page outside another
// field, button or link gives the focus back to it.
document.addEventListener("DOMContentLoaded", () => {
  const scan = document.querySelector("[data-keep-focus]");
  if (!scan) {
    return;
  }
  document.addEventListener("click", (event) => {
    if (!event.target.closest("input, select, textarea, button, a, label, summary, object")) {
      scan.focus();
    }
  });
});
