// Progressive enhancement only: every control also works without JavaScript.
document.addEventListener("change", (event) => {
  const select = event.target.closest("select[data-autosubmit]");
  if (select && select.form) select.form.requestSubmit();
});
document.addEventListener("submit", (event) => {
  const message = event.target.getAttribute("data-confirm");
  if (message && !window.confirm(message)) event.preventDefault();
});

// Destinations wizards: live filtering, adding mapping rows and the "new audiences only" switch. Without
// JavaScript the same buttons post back and the server redraws the step.
document.documentElement.classList.add("js");

function filterAudienceTable(table) {
  const search = document.querySelector(`[data-table-filter="#${table.id}"]`);
  const origin = document.querySelector(table.dataset.originFilter);
  const query = (search ? search.value : "").trim().toLowerCase();
  const wanted = origin ? origin.value : "";
  let shown = 0;
  table.querySelectorAll("tbody tr[data-search]").forEach((row) => {
    const visible = (!wanted || row.dataset.origin === wanted) && (!query || row.dataset.search.includes(query));
    row.hidden = !visible;
    if (visible) shown += 1;
  });
  const empty = table.querySelector("tr.no-matches");
  if (empty) empty.hidden = shown > 0;
}

document.addEventListener("input", (event) => {
  const search = event.target.closest("[data-table-filter]");
  if (search) filterAudienceTable(document.querySelector(search.dataset.tableFilter));
});
document.addEventListener("change", (event) => {
  const table = document.querySelector(`table[data-origin-filter="#${event.target.id}"]`);
  if (table) filterAudienceTable(table);
  const toggle = event.target.closest("[data-toggle-rows]");
  if (toggle) {
    const rows = document.querySelectorAll(`${toggle.dataset.toggleRows} tbody tr[data-existing]`);
    let shown = 0;
    rows.forEach((row) => {
      row.hidden = toggle.checked && row.dataset.existing === "1" && !row.querySelector(".errorlist");
      if (!row.hidden) shown += 1;
    });
    const empty = document.querySelector(`${toggle.dataset.toggleRows} tr.no-matches`);
    if (empty) empty.hidden = rows.length > 0 && shown > 0;
  }
  // A freshly picked source suggests its last path segment as the target name.
  const source = event.target.closest(".mapping-source select");
  if (source && source.value) {
    const target = source.closest("tr").querySelector(".mapping-target input");
    const path = source.options[source.selectedIndex].text.split(" ")[0];
    if (target && !target.value) target.value = path.split(".").pop();
  }
});
document.addEventListener("keydown", (event) => {
  // Enter in a filter box filters (live already); it must not submit the step.
  if (event.key === "Enter" && event.target.closest("[data-table-filter]")) event.preventDefault();
});
document.addEventListener("click", (event) => {
  const add = event.target.closest("[data-formset-add]");
  if (!add) return;
  const body = document.querySelector(`${add.dataset.formsetAdd} tbody`);
  const total = document.querySelector(`input[name="${add.dataset.formsetPrefix}-TOTAL_FORMS"]`);
  const index = Number(total.value);
  const html = document.querySelector(add.dataset.formsetTemplate).innerHTML
    .replaceAll("__prefix__", String(index))
    .replaceAll("__number__", String(index + 1));
  body.insertAdjacentHTML("beforeend", html);
  total.value = String(index + 1);
  body.lastElementChild.querySelector("select").focus();
});
document.querySelectorAll("[data-formset-add]").forEach((button) => { button.hidden = false; });
