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

  function defaultSubject() {
    if (config.fields.length) return `field:${config.fields[0].path}`;
    if (config.audiences.length) return "in_audience";
    return `event:${config.events[0].path}`;
  }

  function subjectSelect(current) {
    const select = el("select", { class: "rule-subject", "aria-label": T.subject });
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
      container.append(list);
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

  function audienceSelect(current) {
    const select = el("select", { class: "rule-audience", "aria-label": T.audience, "data-role": "audience" });
    const known = config.audiences.some((item) => item.id === current);
    if (!current) select.append(option("", T.choose_audience, true));
    if (current && !known) select.append(option(current, current, true));
    config.audiences.forEach((item) => select.append(option(item.id, item.label, item.id === current)));
    return select;
  }

  // Building the tree ----------------------------------------------------------------------------------------

  function conditionElement(node = {}) {
    const subject = Object.keys(node).length ? subjectOf(node) : defaultSubject();
    const row = el("div", { class: "rule-condition", "data-node": "condition" });
    const controls = el("div", { class: "rule-condition-controls" });
    controls.append(subjectSelect(subject), el("span", { class: "rule-operator-slot" }), el("span", { class: "rule-value" }));
    row.append(controls, button("remove", T.remove_condition, "×", "rule-remove secondary outline"));
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

  function readCondition(row) {
    const { subject, op } = row.dataset;
    if (subject === "in_audience") return { in_audience: row.querySelector("[data-role=audience]").value };
    const node = subject.startsWith("event:") ? { event: subject.slice(6) } : { field: subject.slice(6) };
    if (op) node.op = op;
    const type = valueType(subject);
    const part = (role) => row.querySelector(`[data-role=${role}]`);
    let value;
    if (op === "in") {
      value = part("list").value.split("\n").map((line) => line.trim()).filter(Boolean)
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

  const dot = (path) => (path ? `${path}.` : "");

  // Serialize a node and mark each element with its path in the rule, as the server's messages name it.
  function read(element, path) {
    element.dataset.path = path;
    if (element.dataset.node === "condition") return readCondition(element);
    const kind = element.dataset.kind;
    const children = [...element.querySelector(":scope > .rule-children").children];
    element.classList.toggle("is-empty", children.length === 0);
    if (kind === "not") {
      if (children.length === 1) return { not: read(children[0], `${dot(path)}not`) };
      return { not: { any: children.map((child, index) => read(child, `${dot(path)}not.any[${index}]`)) } };
    }
    return { [kind]: children.map((child, index) => read(child, `${dot(path)}${kind}[${index}]`)) };
  }

  let root;

  function sync(announce = true) {
    field.value = JSON.stringify(read(root, ""));
    if (announce) form.dispatchEvent(new CustomEvent("rule-change", { bubbles: true }));
  }

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
      const previous = readCondition(row);
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
