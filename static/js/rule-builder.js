// Audience rule builder: edits the rule as a tree of groups and conditions and keeps the form's `rule` JSON
// field in step with it. The server is the validator (on save and in the live estimate); this script only offers
// the subjects, operators and value inputs that fit, and writes what the user picked, even when it is wrong.
(() => {
  "use strict";
  const builder = document.querySelector("[data-rule-builder]");
  if (!builder) return;
  const field = document.getElementById(builder.dataset.ruleField);
  const form = field.form;
  const fallback = field.closest(".rule-json-fallback");
  const config = JSON.parse(document.getElementById("rule-builder-config").textContent);
  const T = config.text;
  const fieldTypes = new Map(config.fields.map((item) => [item.path, item.type]));

  // DOM helpers ----------------------------------------------------------------------------------------------

  function el(tag, attrs = {}, children = []) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value === undefined || value === null || value === false) continue;
      if (key === "text") node.textContent = value;
      else node.setAttribute(key, value === true ? "" : value);
    }
    node.append(...children.filter(Boolean));
    return node;
  }

  function option(value, label, selected = false) {
    const item = el("option", { value, text: label });
    item.selected = selected;
    return item;
  }

  function button(action, label, text, className) {
    return el("button", { type: "button", class: className, "data-action": action, "aria-label": label, text });
  }

  // Subjects: "field:<path>", "event:<name>" or "in_audience" ------------------------------------------------

  function subjectOf(node) {
    if ("field" in node) return `field:${node.field}`;
    if ("event" in node) return `event:${node.event}`;
    return "in_audience";
  }

  function valueType(subject) {
    if (subject.startsWith("field:")) return fieldTypes.get(subject.slice(6)) || "string";
    return "string";
  }

  function operatorsFor(subject) {
    if (subject.startsWith("field:")) return config.operators[fieldTypes.get(subject.slice(6))] || [];
    if (subject.startsWith("event:")) return config.event_operators[subject.slice(6)] || [];
    return [];
  }

  // Wide enough for the longest label, so "homeAddress.countryCode · text" is never cut to "homeAddress.cou…".
  const longestLabel = Math.max(13, ...config.fields.map((item) => item.label.length), ...config.audiences.map((item) => item.label.length));

  function subjectSelect(current) {
    const select = el("select", { class: "rule-subject", "aria-label": T.subject, style: `--label-ch: ${Math.min(longestLabel, 48)}` });
    const known = current === "in_audience" || operatorsFor(current).length > 0;
    if (!current) select.append(option("", T.choose_subject, true));
    const fields = el("optgroup", { label: T.profile_fields });
    if (current.startsWith("field:") && !known) {
      fields.append(option(current, `${current.slice(6)} · ${T.unknown_field}`, true));
    }
    config.fields.forEach((item) => fields.append(option(`field:${item.path}`, item.label, current === `field:${item.path}`)));
    const membership = el("optgroup", { label: T.membership }, [option("in_audience", T.in_audience, current === "in_audience")]);
    const events = el("optgroup", { label: T.events });
    if (current.startsWith("event:") && !known) events.append(option(current, current.slice(6), true));
    config.events.forEach((item) => events.append(option(`event:${item.path}`, item.label, current === `event:${item.path}`)));
    select.append(...[fields, membership, events].filter((group) => group.children.length));
    return select;
  }

  function operatorSelect(subject, current) {
    const ops = operatorsFor(subject).slice();
    // An operator the type does not take (an old rule, a changed schema) stays visible so the server can name it.
    if (typeof current === "string" && current && !ops.includes(current)) ops.push(current);
    const select = el("select", { class: "rule-operator", "aria-label": T.operator });
    const chosen = ops.includes(current) ? current : ops[0];
    ops.forEach((op) => select.append(option(op, config.operator_labels[op] || op, op === chosen)));
    return select;
  }

  // Value inputs by type and operator ------------------------------------------------------------------------

  function scalarInput(type, value, label, role) {
    if (type === "boolean") {
      const select = el("select", { "aria-label": label, "data-role": role });
      select.append(option("true", T.true, value !== false), option("false", T.false, value === false));
      return select;
    }
    const attrs = { "aria-label": label, "data-role": role, type: "text" };
    if (type === "number") Object.assign(attrs, { type: "number", step: "any", inputmode: "decimal" });
    if (type === "date") attrs.type = "date";
    const input = el("input", attrs);
    if (value !== undefined && value !== null && typeof value !== "object") input.value = String(value);
    return input;
  }

  function renderValue(container, type, op, value) {
    container.replaceChildren();
    if (!op || op === "exists") return;
    if (op === "in") {
      const list = el("textarea", { rows: 2, "aria-label": T.values, "data-role": "list", placeholder: T.values });
      list.value = Array.isArray(value) ? value.map(String).join("\n") : value === undefined ? "" : String(value);
      container.append(list, el("div", { class: "rule-list-preview", "data-role": "list-preview", "aria-live": "polite" }));
      showList(container);
    } else if (op === "between") {
      const [low, high] = Array.isArray(value) ? value : [value, undefined];
      container.append(
        scalarInput(type, low, T.from, "low"),
        el("span", { class: "rule-joiner", text: T.and }),
        scalarInput(type, high, T.to, "high"),
      );
    } else if (op === "within_last_days") {
      const days = el("input", { type: "number", min: 1, step: 1, inputmode: "numeric", "aria-label": T.days, "data-role": "days" });
      if (typeof value === "number") days.value = String(value);
      container.append(days, el("span", { class: "rule-joiner", text: T.days }));
    } else {
      container.append(scalarInput(type, Array.isArray(value) ? undefined : value, T.value, "value"));
    }
  }

  const listValues = (text) => text.split("\n").map((line) => line.trim()).filter(Boolean);

  // Under an "is one of" box: the values as they will be saved, and a way out when a line holds a comma-separated list.
  function showList(container) {
    const list = container.querySelector("[data-role=list]");
    const preview = container.querySelector("[data-role=list-preview]");
    if (!list || !preview) return;
    const values = listValues(list.value);
    // Redraw only when the values change: a click on "Split at commas" must find its button still there after the
    // box's change event.
    const shown = JSON.stringify(values);
    if (preview.dataset.shown === shown) return;
    preview.dataset.shown = shown;
    const chips = values.map((value) => el("span", { class: "rule-chip", text: value }));
    const count = values.length === 0 ? T.no_values : values.length === 1 ? T.one_value : T.n_values.replace("{count}", values.length);
    const parts = [el("p", { class: "rule-list-values" }, [el("span", { class: "muted", text: count }), ...chips])];
    const withComma = values.find((value) => value.includes(","));
    if (withComma) {
      parts.push(
        el("p", { class: "rule-list-warning", role: "status" }, [
          el("span", { text: T.comma_warning.replace("{line}", withComma) }),
          button("split-commas", T.split_commas, T.split_commas, "secondary outline"),
        ]),
      );
    }
    preview.replaceChildren(...parts);
  }

  function audienceSelect(current) {
    const select = el("select", { class: "rule-audience", "aria-label": T.audience, "data-role": "audience" });
    const known = config.audiences.some((item) => item.id === current);
    if (!current) select.append(option("", T.choose_audience, true));
    if (current && !known) select.append(option(current, current, true));
    config.audiences.forEach((item) => select.append(option(item.id, item.label, item.id === current)));
    return select;
  }

  // Building the tree ----------------------------------------------------------------------------------------

  // A new condition starts with nothing chosen: it changes neither the rule nor the estimate until it is complete.
  function conditionElement(node = {}) {
    const subject = Object.keys(node).length ? subjectOf(node) : "";
    const row = el("div", { class: "rule-condition", "data-node": "condition" });
    const controls = el("div", { class: "rule-condition-controls" });
    controls.append(subjectSelect(subject), el("span", { class: "rule-operator-slot" }), el("span", { class: "rule-value" }));
    row.append(
      controls,
      button("remove", T.remove_condition, "×", "rule-remove secondary outline"),
      el("p", { class: "rule-incomplete muted", text: T.incomplete }),
    );
    fillCondition(row, subject, node.op, subject === "in_audience" ? node.in_audience : node.value);
    return row;
  }

  // Draw a condition's operator and value inputs; `data-subject` and `data-op` say what the inputs hold now.
  function fillCondition(row, subject, op, value) {
    const opSlot = row.querySelector(".rule-operator-slot");
    const valueSlot = row.querySelector(".rule-value");
    opSlot.replaceChildren();
    row.dataset.subject = subject;
    row.dataset.op = "";
    if (!subject) {
      valueSlot.replaceChildren();
      return;
    }
    if (subject === "in_audience") {
      valueSlot.replaceChildren(audienceSelect(typeof value === "string" ? value : ""));
      return;
    }
    const select = operatorSelect(subject, op);
    opSlot.append(select);
    row.dataset.op = select.value;
    renderValue(valueSlot, valueType(subject), select.value, value);
  }

  function groupElement(kind, children = [], isRoot = false) {
    // No role="group": Pico draws such elements as a row of joined buttons.
    const group = el("div", { class: "rule-group", "data-node": "group", "data-kind": kind });
    const kindSelect = el("select", { class: "rule-kind", "aria-label": T.group_type });
    ["all", "any", "not"].forEach((value) => kindSelect.append(option(value, T[value], value === kind)));
    const head = el("div", { class: "rule-group-head" }, [kindSelect]);
    if (!isRoot) head.append(button("remove", T.remove_group, T.remove_group, "rule-remove-group secondary outline"));
    const list = el("div", { class: "rule-children" });
    children.forEach((child) => list.append(child));
    const empty = el("p", { class: "rule-empty muted", text: T.empty_group });
    const actions = el("div", { class: "rule-group-actions" }, [
      button("add-condition", T.add_condition, `+ ${T.add_condition}`, "outline"),
      button("add-group", T.add_group, `+ ${T.add_group}`, "secondary outline"),
    ]);
    group.append(head, list, empty, actions);
    return group;
  }

  const isObject = (value) => value !== null && typeof value === "object" && !Array.isArray(value);
  const LEAF_KEYS = { field: ["field", "op", "value"], event: ["event", "op", "value"], in_audience: ["in_audience"] };

  // Turn a rule into elements; throw when it has a shape the builder cannot show (the JSON field is shown then).
  function parse(node) {
    if (!isObject(node)) throw new Error("not an object");
    const kinds = ["all", "any", "not", "field", "event", "in_audience"].filter((key) => key in node);
    if (kinds.length !== 1) throw new Error("no single kind");
    const kind = kinds[0];
    const allowed = LEAF_KEYS[kind] || [kind];
    if (Object.keys(node).some((key) => !allowed.includes(key))) throw new Error("unknown key");
    if (kind === "all" || kind === "any") {
      if (!Array.isArray(node[kind])) throw new Error("not a list");
      return groupElement(kind, node[kind].map(parse));
    }
    if (kind === "not") {
      const inner = node.not;
      if (isObject(inner) && Object.keys(inner).length === 1 && Array.isArray(inner.any)) {
        return groupElement("not", inner.any.map(parse));
      }
      return groupElement("not", [parse(inner)]);
    }
    if (typeof node[kind] !== "string") throw new Error("subject is not a string");
    if ("op" in node && typeof node.op !== "string") throw new Error("operator is not a string");
    return conditionElement(node);
  }

  // Reading the tree back ------------------------------------------------------------------------------------

  function readScalar(input, type) {
    if (!input) return undefined;
    if (type === "boolean") return input.value === "true";
    const text = input.value;
    if (text.trim() === "") return undefined;
    if (type === "number") {
      const number = Number(text.trim());
      return Number.isFinite(number) ? number : text;
    }
    return text;
  }

  // The condition as the rule holds it, or null while nothing is chosen at all (there is nothing to save then).
  function readCondition(row) {
    const { subject, op } = row.dataset;
    if (!subject) return null;
    if (subject === "in_audience") return { in_audience: row.querySelector("[data-role=audience]").value };
    const node = subject.startsWith("event:") ? { event: subject.slice(6) } : { field: subject.slice(6) };
    if (op) node.op = op;
    const type = valueType(subject);
    const part = (role) => row.querySelector(`[data-role=${role}]`);
    let value;
    if (op === "in") {
      value = listValues(part("list").value)
        .map((line) => (type === "number" && Number.isFinite(Number(line)) ? Number(line) : line));
    } else if (op === "between") {
      const low = readScalar(part("low"), type);
      const high = readScalar(part("high"), type);
      value = low === undefined && high === undefined ? undefined : [low ?? null, high ?? null];
    } else if (op === "within_last_days") {
      value = readScalar(part("days"), "number");
    } else if (op && op !== "exists") {
      value = readScalar(part("value"), type);
    }
    if (value !== undefined) node.value = value;
    return node;
  }

  // Whether a condition says everything it needs: a subject, an operator and the value(s) that operator takes.
  function isComplete(node) {
    if ("in_audience" in node) return Boolean(node.in_audience);
    if (!node.op) return false;
    if (node.op === "exists") return true;
    if (node.op === "in") return Array.isArray(node.value) && node.value.length > 0;
    if (node.op === "between") return Array.isArray(node.value) && node.value.every((part) => part !== null && part !== undefined);
    return node.value !== undefined;
  }

  const dot = (path) => (path ? `${path}.` : "");

  // Serialize a node, or null when it holds nothing to count. The saved rule keeps an incomplete condition (the
  // server names what it lacks); the estimate's rule (`forEstimate`) leaves it out, and empty groups with it. Each
  // element is marked with its path in the rule, as the server's messages name it.
  function read(element, path, forEstimate = false) {
    if (!forEstimate) element.dataset.path = path;
    if (element.dataset.node === "condition") {
      const node = readCondition(element);
      if (!forEstimate) element.classList.toggle("is-incomplete", node === null || !isComplete(node));
      return node === null || (forEstimate && !isComplete(node)) ? null : node;
    }
    const kind = element.dataset.kind;
    const children = [...element.querySelector(":scope > .rule-children").children];
    if (!forEstimate) element.classList.toggle("is-empty", children.length === 0);
    // A condition with nothing chosen is not part of the rule at all: it takes no index in the paths.
    const chosen = children.filter((child) => child.dataset.node === "group" || child.dataset.subject);
    children.filter((child) => !chosen.includes(child)).forEach((child) => {
      child.classList.add("is-incomplete");
      delete child.dataset.path;
    });
    const readAll = (prefix) =>
      chosen.map((child, index) => read(child, `${prefix}[${index}]`, forEstimate)).filter((node) => node !== null);
    let nodes;
    let node;
    if (kind === "not") {
      // A single negated child is written without the "any" around it, and its path has no "any" step either.
      nodes = chosen.length === 1 ? [read(chosen[0], `${dot(path)}not`, forEstimate)].filter((n) => n !== null) : readAll(`${dot(path)}not.any`);
      node = nodes.length === 1 ? { not: nodes[0] } : { not: { any: nodes } };
    } else {
      nodes = readAll(`${dot(path)}${kind}`);
      node = { [kind]: nodes };
    }
    // In the estimate, a group whose conditions are all incomplete counts for nothing, like its conditions.
    if (forEstimate && path !== "" && nodes.length === 0) return null;
    return node;
  }

  let root;
  let estimated;

  // The rule the live estimate counts: only complete conditions.
  const estimateRule = () => JSON.stringify(read(root, "", true));

  function sync(announce = true) {
    field.value = JSON.stringify(read(root, ""));
    builder.querySelectorAll(".rule-value").forEach(showList);
    const counted = estimateRule();
    // Choosing a field or typing half a condition changes nothing the estimate counts: do not ask for it again.
    if (announce && counted !== estimated) form.dispatchEvent(new CustomEvent("rule-change", { bubbles: true }));
    estimated = counted;
  }

  document.body.addEventListener("htmx:configRequest", (event) => {
    if (event.detail.elt && event.detail.elt.id === "rule-estimate") event.detail.parameters.set("rule", estimateRule());
  });

  // Server messages start with the path of the part they are about (`all[1].value: …`); show each one under the
  // deepest group or condition on that path as well.
  function pinErrors() {
    document.querySelectorAll("#rule-errors li").forEach((item) => {
      const match = /^([^\s:]+): /.exec(item.textContent.trim());
      if (!match) return;
      const path = match[1] === "rule" ? "" : match[1];
      let target = root;
      builder.querySelectorAll("[data-path]").forEach((node) => {
        const candidate = node.dataset.path;
        const within = candidate === "" || path === candidate || path.startsWith(`${candidate}.`) || path.startsWith(`${candidate}[`);
        if (within && candidate.length >= target.dataset.path.length) target = node;
      });
      target.classList.add("has-error");
      const message = el("p", { class: "rule-node-error", text: item.textContent.trim() });
      if (target.dataset.node === "condition") target.append(message);
      else target.querySelector(":scope > .rule-group-head").after(message);
    });
  }

  // Events ---------------------------------------------------------------------------------------------------

  builder.addEventListener("change", (event) => {
    const target = event.target;
    const row = target.closest(".rule-condition");
    if (target.classList.contains("rule-subject")) {
      // Keep the operator and value when the new subject takes the same type.
      const previous = readCondition(row) || {};
      const sameType = valueType(target.value) === valueType(row.dataset.subject) && target.value !== "in_audience";
      fillCondition(row, target.value, previous.op, sameType ? previous.value : undefined);
    } else if (target.classList.contains("rule-operator")) {
      const previous = readCondition(row);
      const keep = Array.isArray(previous.value) && target.value !== "in" ? previous.value[0] : previous.value;
      renderValue(row.querySelector(".rule-value"), valueType(row.dataset.subject), target.value, keep);
      row.dataset.op = target.value;
    } else if (target.classList.contains("rule-kind")) {
      target.closest(".rule-group").dataset.kind = target.value;
    }
    sync();
  });

  builder.addEventListener("input", (event) => {
    if (event.target.matches("input, textarea")) sync();
  });

  builder.addEventListener("keydown", (event) => {
    // Enter in a value box must not submit the whole audience form.
    if (event.key === "Enter" && event.target.matches("input")) event.preventDefault();
  });

  builder.addEventListener("click", (event) => {
    const action = event.target.closest("[data-action]");
    if (!action) return;
    const group = action.closest(".rule-group");
    let focus;
    if (action.dataset.action === "add-condition") {
      const row = conditionElement();
      group.querySelector(":scope > .rule-children").append(row);
      focus = row.querySelector("select");
    } else if (action.dataset.action === "add-group") {
      const child = groupElement("any", [conditionElement()]);
      group.querySelector(":scope > .rule-children").append(child);
      focus = child.querySelector(".rule-subject");
    } else if (action.dataset.action === "split-commas") {
      const list = action.closest(".rule-value").querySelector("[data-role=list]");
      list.value = listValues(list.value).flatMap((line) => line.split(",")).map((part) => part.trim()).filter(Boolean).join("\n");
      focus = list;
    } else if (action.dataset.action === "remove") {
      const removed = action.closest(".rule-condition") || group;
      const parent = removed.parentElement.closest(".rule-group");
      removed.remove();
      focus = parent.querySelector(":scope > .rule-group-actions button");
    }
    sync();
    if (focus) focus.focus();
  });

  form.addEventListener("change", (event) => {
    if (event.target.name === "evaluation") form.dispatchEvent(new CustomEvent("rule-change", { bubbles: true }));
  });

  // Start: draw the rule in the field (an empty field starts an empty "All of" group) ---------------------------

  try {
    const text = field.value.trim();
    const rule = text && text !== "null" ? JSON.parse(text) : { all: [] };
    const parsed = parse(rule);
    root = parsed.dataset.node === "group" ? parsed : groupElement("all", [parsed]);
  } catch (error) {
    fallback.before(el("p", { class: "message message-warning", text: T.unreadable }));
    return;
  }
  root.classList.add("rule-root");
  root.querySelector(":scope > .rule-group-head .rule-remove-group")?.remove();
  builder.append(root);
  builder.hidden = false;
  fallback.hidden = true;
  sync(false);
  pinErrors();
})();
