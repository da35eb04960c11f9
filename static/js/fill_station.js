// The fill station: Enter (a scanner's, or the keyboard's) goes on to whatever is still
// missing, the bottle's scan, the count or the rotation reason the station asked for,
// and submits only when all are there. The count is never filled in for the technician.
document.addEventListener("DOMContentLoaded", () => {
  const form = document.querySelector("[data-fill-form]");
  if (!form) {
    return;
  }
  const scan = form.querySelector("[name=scan]");
  const count = form.querySelector("[name=quantity]");
  const reason = form.querySelector("input[type=text][name=rotation_reason]");
  const note = form.querySelector("[data-fill-note]");
  const steps = [
    [scan, "Scan the stock bottle."],
    [count, "Count the units and enter your count."],
  ];
  if (reason) {
    steps.push([reason, "Say why you take this lot and not the earlier-expiring one."]);
  }
  form.addEventListener("keydown", (event) => {
    if (event.key !== "Enter" || event.target.tagName === "BUTTON") {
      return;
    }
    for (const [field, text] of steps) {
      if (!field.value.trim()) {
        event.preventDefault();
        field.focus();
        note.textContent = text;
        note.classList.add("error");
        return;
      }
    }
  });
});
