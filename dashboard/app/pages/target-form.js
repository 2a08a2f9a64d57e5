// Register or edit a target. The browser checks what it can (required, shape, cron field
// count); the service's 422 answers are shown next to the field they name.
import { useEffect, useState } from "../../vendor/preact-hooks.mjs";
import { html } from "../html.js";
import { getJson, send } from "../api.js";
import { navigate } from "../router.js";
import { FIELDS, fieldProblem, formProblems } from "../targets.js";
import { ErrorNote, Loading, formField } from "../components.js";
import { kindByPlural } from "../format.js";

function initialValues(fields, target) {
  const values = {};
  for (const field of fields) {
    const value = target ? target[field.name] : undefined;
    values[field.name] = value === undefined || value === null ? "" : field.list ? value.join(", ") : String(value);
  }
  return values;
}

function body(fields, values, editing) {
  const out = {};
  for (const field of fields) {
    if (editing && field.fixed) continue;
    const text = values[field.name].trim();
    if (field.list) {
      if (text || editing) out[field.name] = text ? text.split(/[\s,]+/).filter(Boolean) : null;
    } else if (field.type === "number") {
      if (text) out[field.name] = Number(text);
    } else if (text) {
      out[field.name] = text;
    } else if (editing && field.name === "schedule") {
      out.schedule = null; // clears the schedule
    }
  }
  return out;
}

// The service names fields as it read them ("schedule", "defaultBranch", "body.url").
function fieldOf(detail) {
  return String(detail.field || "").split(".").pop();
}

export function TargetForm({ plural, targetId }) {
  const kind = kindByPlural(plural);
  const fields = FIELDS[plural] || [];
  const editing = Boolean(targetId);
  const [values, setValues] = useState(null);
  const [problems, setProblems] = useState({});
  const [failure, setFailure] = useState(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (!editing) {
      setValues(initialValues(fields, null));
      return;
    }
    getJson(`/api/v1/${plural}/${encodeURIComponent(targetId)}`)
      .then((target) => setValues(initialValues(fields, target)))
      .catch(setFailure);
  }, [plural, targetId]);

  if (!kind) return html`<p>Unknown kind of target.</p>`;
  if (!values) return failure ? html`<${ErrorNote} error=${failure} />` : html`<${Loading} />`;

  async function submit(event) {
    event.preventDefault();
    const found = editing ? {} : formProblems(plural, values);
    for (const field of fields) {
      if (editing && field.fixed) continue;
      const problem = fieldProblem(field, values[field.name]);
      if (problem) found[field.name] = problem;
    }
    setProblems(found);
    setFailure(null);
    if (Object.keys(found).length) {
      document.getElementById("field-" + Object.keys(found)[0]).focus();
      return;
    }
    setBusy(true);
    try {
      if (editing) {
        await send("PATCH", `/api/v1/${plural}/${encodeURIComponent(targetId)}`, body(fields, values, true));
      } else {
        await send("POST", `/api/v1/${plural}`, body(fields, values, false));
      }
      navigate("/targets/" + plural);
    } catch (error) {
      const byField = {};
      for (const detail of error.details || []) {
        const name = fieldOf(detail);
        if (fields.some((f) => f.name === name)) byField[name] = detail.message.replace(/^Value error, /, "");
      }
      setProblems(byField);
      setFailure(error);
      setBusy(false);
    }
  }

  const set = (name) => (event) => setValues({ ...values, [name]: event.currentTarget.value });
  return html`<h1>${editing ? `Edit ${kind.name} ${targetId}` : `Register a ${kind.name}`}</h1>
    <form class="card form" onSubmit=${submit} novalidate>
      ${failure && html`<div class="error-note" role="alert">${failure.message}</div>`}
      ${fields.map((field) => {
        const disabled = editing && field.fixed;
        return formField(field, problems[field.name], (a) =>
          field.options
            ? html`<select id=${a.id} value=${values[field.name] || field.options[0]} onChange=${set(field.name)} disabled=${disabled}>
                ${field.options.map((o) => html`<option value=${o}>${o}</option>`)}
              </select>`
            : html`<input id=${a.id} type=${field.type === "number" ? "number" : "text"} value=${values[field.name]}
                placeholder=${field.placeholder || ""} onInput=${set(field.name)} disabled=${disabled}
                aria-invalid=${a.invalid} aria-describedby=${a.describedBy}
                aria-required=${field.required ? "true" : undefined} autocomplete="off" spellcheck="false" />`,
        );
      })}
      <div class="form-actions">
        <button type="submit" class="primary" disabled=${busy}>${editing ? "Save" : "Register"}</button>
        <a class="button" href=${"#/targets/" + plural}>Cancel</a>
      </div>
    </form>`;
}
