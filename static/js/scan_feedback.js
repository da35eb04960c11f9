// A scan's outcome, unmistakable from across the bench: a good scan gets a large green
// confirmation, a refused one a larger red stop, each with a short tone made with the
// Web Audio API (no sound files). The tone can be switched off for this browser; the
// choice is remembered (localStorage). Pages mark outcomes in their HTML: a message
// tagged scan-confirmed (a step done by scan), an element marked data-scan-refused (a
// refusal); scripts of scan stations call window.scanFeedback.good/bad.
(() => {
  const STORAGE_KEY = "pharmacy.scanSound";

  function soundOn() {
    try {
      return window.localStorage.getItem(STORAGE_KEY) !== "off";
    } catch {
      return true;
    }
  }

  function setSound(on) {
    try {
      window.localStorage.setItem(STORAGE_KEY, on ? "on" : "off");
    } catch {
      // Storage refused (a private window): the choice lasts for this page only.
    }
  }

  // Good: one short high note. Bad: two low, harsh notes, longer.
  const TONES = {
    good: { type: "sine", notes: [[1046, 0, 0.15]] },
    bad: { type: "square", notes: [[220, 0, 0.25], [165, 0.3, 0.4]] },
  };

  function tone(kind) {
    if (!soundOn()) {
      return;
    }
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) {
      return;
    }
    try {
      const context = new Context();
      const { type, notes } = TONES[kind];
      for (const [frequency, start, length] of notes) {
        const oscillator = context.createOscillator();
        const gain = context.createGain();
        oscillator.type = type;
        oscillator.frequency.value = frequency;
        gain.gain.value = 0.12;
        oscillator.connect(gain).connect(context.destination);
        oscillator.start(context.currentTime + start);
        oscillator.stop(context.currentTime + start + length);
      }
      context.resume?.();
      window.setTimeout(() => context.close(), 1500);
    } catch {
      // No audio device: the colour and the words say it.
    }
  }

  function show(element, kind) {
    element.classList.add(kind === "good" ? "scan-good" : "scan-bad");
    element.dataset.scanFeedback = kind;
    tone(kind);
  }

  function renderToggle(button) {
    const on = soundOn();
    button.textContent = `Sound on scans: ${on ? "on" : "off"}`;
    button.setAttribute("aria-pressed", on ? "true" : "false");
  }

  window.scanFeedback = {
    good: (element) => show(element, "good"),
    bad: (element) => show(element, "bad"),
    soundOn,
  };

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll(".message.scan-confirmed").forEach((element) => {
      show(element, "good");
    });
    document.querySelectorAll("[data-scan-refused]").forEach((element) => {
      show(element, "bad");
    });
    document.querySelectorAll("[data-scan-sound-toggle]").forEach((button) => {
      renderToggle(button);
      button.addEventListener("click", () => {
        setSound(!soundOn());
        renderToggle(button);
      });
    });
  });
})();
