// How a code reached a scan field. A keyboard-wedge scanner types a whole code in one
// burst, a few milliseconds between keys, and ends it with Enter; a person types at 100 ms
// or more a key. A vial label code must come from the label in hand, never be read off a
// screen and typed (issue 13), so the form says which it was in a hidden field
// (entry=scanned|typed); the server takes anything else (no script, a paste) as typed.
(() => {
  // Scanners send a key every 2-20 ms; the fastest typists average over 60 ms a key.
  const SCANNER_MEAN_INTERVAL_MS = 50;
  const MIN_KEYS = 4;

  function watch(input, onEnter) {
    let times = [];
    let edited = false;
    let endedWithEnter = false;

    function reset() {
      times = [];
      edited = false;
      endedWithEnter = false;
    }

    function entry() {
      const value = input.value.trim();
      if (!value || edited || !endedWithEnter || times.length < Math.max(MIN_KEYS, value.length)) {
        return "typed";
      }
      const keys = times.slice(-(value.length + 1));
      const mean = (keys[keys.length - 1] - keys[0]) / (keys.length - 1);
      return mean < SCANNER_MEAN_INTERVAL_MS ? "scanned" : "typed";
    }

    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        times.push(event.timeStamp);
        endedWithEnter = true;
        if (onEnter) {
          onEnter(entry(), event);
        }
      } else if (event.key.length === 1) {
        times.push(event.timeStamp);
        endedWithEnter = false;
      } else if (event.key === "Backspace" || event.key === "Delete") {
        edited = true; // corrected by hand
      }
    });
    input.addEventListener("paste", () => {
      edited = true;
    });
    input.addEventListener("input", () => {
      if (!input.value) {
        reset();
      }
    });
    return { entry, reset };
  }

  window.scanEntry = { watch };

  // A form with one scan field that must be scanned (PV2): a typed code asks for the
  // reason before it goes, and the hidden field carries what the keys said.
  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("[data-scan-entry-form]").forEach((form) => {
      const input = form.querySelector("[data-scan-entry]");
      const hidden = form.querySelector("[data-entry]");
      const reasonBox = form.querySelector("[data-typed-reason]");
      const reason = reasonBox?.querySelector("input");
      const note = form.querySelector("[data-entry-note]");
      const watcher = watch(input, (entry, event) => {
        hidden.value = entry;
        if (entry === "typed" && reason && !reason.value.trim()) {
          event.preventDefault();
          reasonBox.hidden = false;
          if (note) {
            note.textContent =
              "Stop. That code was typed, not scanned: scan the barcode on the vial label, or give your reason for typing it.";
            note.classList.add("scan-bad");
            window.scanFeedback?.bad(note);
          }
          input.value = "";
          watcher.reset();
          reason.focus();
        }
      });
      form.addEventListener("submit", () => {
        if (input.value.trim()) {
          hidden.value = watcher.entry();
        }
      });
    });
  });
})();
