// Pickers and shortcuts of the intake forms. Enter in a search picks the only match (a scan),
// arrow keys move through matches, Ctrl+Enter saves the form.
(() => {
  const choose = (button) => {
    const name = button.dataset.pick;
    const picker = document.querySelector(`[data-picker="${name}"]`);
    if (!picker) return;
    const value = picker.querySelector(`#${name}-value`);
    value.value = button.dataset.value;
    // What shows the pick (the patient's medications and allergies) listens for this.
    value.dispatchEvent(new Event("change", { bubbles: true }));
    const chosen = picker.querySelector(".chosen");
    chosen.querySelector("strong").textContent = button.dataset.label;
    chosen.querySelector(".muted").textContent = button.dataset.detail || "";
    chosen.hidden = false;
    picker.querySelector(`#${name}-results`).innerHTML = "";
    picker.querySelector("input[type=search]").value = "";
    if (name === "product") {
      const pkg = document.getElementById("package-value");
      if (pkg) pkg.value = button.dataset.package || "";
      const unit = document.getElementById("id_quantity_unit");
      if (unit && button.dataset.unit && !unit.dataset.touched) {
        unit.value = button.dataset.unit;
        unit.dispatchEvent(new Event("change", { bubbles: true }));
      }
    }
    const next = picker.dataset.next && document.getElementById(picker.dataset.next);
    if (next) next.focus();
  };

  document.addEventListener("click", (event) => {
    const button = event.target.closest(".pick-option");
    if (button) {
      event.preventDefault();
      choose(button);
    }
  });

  document.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      const form = event.target.closest("form");
      if (form) {
        event.preventDefault();
        form.requestSubmit();
      }
      return;
    }
    const search = event.target.closest("[data-picker] input[type=search]");
    if (search && event.key === "Enter") {
      event.preventDefault();
      search.dataset.pickOnLoad = "1";
      htmx.trigger(search, "pick-now");
      return;
    }
    if (search && event.key === "ArrowDown") {
      const first = search.closest("[data-picker]").querySelector(".pick-option");
      if (first) {
        event.preventDefault();
        first.focus();
      }
      return;
    }
    const option = event.target.closest(".pick-option");
    if (option && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
      event.preventDefault();
      const all = [...option.closest(".pick-results").querySelectorAll(".pick-option")];
      const index = all.indexOf(option) + (event.key === "ArrowDown" ? 1 : -1);
      if (index < 0) option.closest("[data-picker]").querySelector("input[type=search]")?.focus();
      else if (all[index]) all[index].focus();
    }
  });

  // A person's own choice of unit or days supply is never overwritten by a suggestion.
  document.addEventListener("input", (event) => {
    if (event.target.id === "id_days_supply" || event.target.id === "id_quantity_unit") {
      event.target.dataset.touched = "1";
    }
  });

  // After a refused save the first field in error gets the focus (pharmacy.js gives it
  // to the scan field on DOMContentLoaded; "load" comes after).
  window.addEventListener("load", () => {
    const field = document.querySelector(".field .error")?.closest(".field");
    const input = field?.querySelector("input:not([type=hidden]), select, textarea");
    if (input) input.focus();
  });

  document.addEventListener("htmx:afterSwap", (event) => {
    const target = event.detail.target;
    if (target.id === "sig-preview") {
      const days = document.getElementById("id_days_supply");
      const found = target.querySelector("[data-days-supply]");
      if (days && !days.dataset.touched) days.value = found ? found.dataset.daysSupply : "";
      return;
    }
    const picker = target.closest("[data-picker]");
    if (!picker) return;
    const search = picker.querySelector("input[type=search]");
    if (search && search.dataset.pickOnLoad) {
      delete search.dataset.pickOnLoad;
      const options = picker.querySelectorAll(".pick-option");
      if (options.length === 1) choose(options[0]);
      else if (options.length > 1) options[0].focus();
    }
  });
})();
