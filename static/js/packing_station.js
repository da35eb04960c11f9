// The packing station: each vial's Rx label is scanned into the package. A code that is
// one of the expected vials ticks its row; any other code (a vial of another order, a
// stock bottle, a mistyped code) stops with a plain message and is not put in the
// package. The package closes only when every vial is ticked and the weight is entered;
// the server checks every scan again when it closes (shipping.services.pack_shipment).
// A code typed on the keyboard instead of scanned (scan_entry.js tells them apart) is
// refused, unless a pharmacist packs: then it counts, and the package closes only with
// the pharmacist's reason, kept on the shipment.
document.addEventListener("DOMContentLoaded", () => {
  const station = document.querySelector("[data-packing-station]");
  if (!station) {
    return;
  }
  const scan = station.querySelector("#vial-scan");
  const message = station.querySelector("#scan-message");
  const form = station.querySelector("#close-form");
  const scans = form.querySelector("[data-scans]");
  const weight = form.querySelector("[name=weight_oz]");
  const close = form.querySelector("[data-close-package]");
  const note = form.querySelector("[data-close-note]");
  const count = station.querySelector("[data-scanned-count]");
  const entry = form.querySelector("[data-entry]");
  const reasonBox = form.querySelector("[data-typed-reason]");
  const reason = reasonBox.querySelector("input");
  const mayType = station.hasAttribute("data-may-type-codes");
  const rows = new Map();
  station.querySelectorAll("[data-label-code]").forEach((row) => {
    rows.set(row.dataset.labelCode, row);
  });
  const scanned = new Set(
    Array.from(scans.querySelectorAll("input[name=scans]"), (input) => input.value),
  );

  function say(kind, text) {
    message.hidden = false;
    message.className = `scan-message message ${kind}`;
    message.textContent = text;
    if (kind === "success") {
      window.scanFeedback?.good(message);
    } else if (kind === "error") {
      window.scanFeedback?.bad(message);
    }
  }

  function tick(code) {
    const row = rows.get(code);
    row.classList.add("scanned");
    const cell = row.querySelector(".tick");
    cell.textContent = "✔";
    cell.setAttribute("aria-label", "scanned");
    const input = document.createElement("input");
    input.type = "hidden";
    input.name = "scans";
    input.value = code;
    scans.append(input);
    scanned.add(code);
  }

  function refresh() {
    const missing = rows.size - scanned.size;
    const weighed = Number.parseFloat(weight.value) > 0;
    count.textContent = String(scanned.size);
    close.disabled = missing > 0 || !weighed;
    const reasonMissing = entry.value === "typed" && !reason.value.trim();
    close.disabled = close.disabled || reasonMissing;
    if (missing > 0) {
      note.textContent = `${missing} vial${missing === 1 ? "" : "s"} still to scan.`;
    } else if (!weighed) {
      note.textContent = "Every vial is in. Weigh the package and enter its weight.";
    } else if (reasonMissing) {
      note.textContent = "A vial code was typed: give your reason for typing it.";
    } else {
      note.textContent = "Ready: Enter closes the package.";
    }
  }

  function take(raw, how) {
    const code = raw.trim().toUpperCase();
    if (!code) {
      return;
    }
    const row = rows.get(code);
    if (how === "typed" && !mayType) {
      say(
        "error",
        "Stop. That code was typed, not scanned: scan the barcode on the vial label. A label that cannot be scanned needs a pharmacist.",
      );
    } else if (code.startsWith("PKG-")) {
      say(
        "error",
        "Stop. That is a packing slip, not a vial. Finish this package first, or open the other one from the packing station.",
      );
    } else if (!row) {
      say(
        "error",
        `Stop. The vial ${code} is not part of this order. Put it aside: it does not go in this package.`,
      );
    } else if (scanned.has(code)) {
      say("info", `Rx ${row.dataset.rx} is already in the package.`);
    } else {
      if (how === "typed") {
        entry.value = "typed";
        reasonBox.hidden = false;
      } else if (entry.value !== "typed") {
        entry.value = "scanned";
      }
      tick(code);
      const missing = rows.size - scanned.size;
      say(
        "success",
        `Rx ${row.dataset.rx} is in. ${missing ? `${missing} to go.` : "Every vial is in: weigh the package."}`,
      );
      if (!missing) {
        weight.focus();
      }
    }
    refresh();
  }

  const watcher = window.scanEntry.watch(scan, (how, event) => {
    event.preventDefault();
    take(scan.value, how);
    scan.value = "";
    watcher.reset();
  });
  weight.addEventListener("input", refresh);
  reason.addEventListener("input", refresh);
  form.addEventListener("submit", (event) => {
    if (close.disabled) {
      event.preventDefault();
      refresh();
      say("error", `Not closed. ${note.textContent}`);
    }
  });
  refresh();
});
