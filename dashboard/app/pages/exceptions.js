// Exceptions: findings accepted until a date (who answers for them, why). List them, accept
// findings (from a finding's "Accept" link, prefilled), withdraw one. Text people typed is
// inserted as text.
import { useState } from "../../vendor/preact-hooks.mjs";
import { html } from "../html.js";
import { getJson, send } from "../api.js";
import { navigate } from "../router.js";
import { usePolling } from "../polling.js";
import { Empty, ErrorNote, Loading, When, formField } from "../components.js";
import { dateTime } from "../format.js";

export const MAX_DAYS = 365;

function covers(exception) {
  if (exception.fingerprint) return `finding ${exception.fingerprint}`;
  return [exception.ruleId, exception.resourcePattern].filter(Boolean).join(" on ");
}

function Row({ exception, onChanged, onError }) {
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  async function remove() {
    setBusy(true);
    try {
      await send("DELETE", `/api/v1/exceptions/${encodeURIComponent(exception.id)}`);
      onChanged();
    } catch (error) {
      onError(error);
      setBusy(false);
    }
  }
  return html`<tr>
    <th scope="row"><code>${covers(exception)}</code><small class="muted block">${exception.id}</small></th>
    <td data-label="Status"><span class=${"badge " + (exception.status === "active" ? "accepted" : "status-cancelled")}>${exception.status}</span></td>
    <td data-label="Target">${exception.targetId || html`<span class="muted">any</span>`}</td>
    <td data-label="Owner">${exception.owner}</td>
    <td data-label="Expires"><time datetime=${exception.expiresAt} title=${dateTime(exception.expiresAt)}>${dateTime(exception.expiresAt)}</time></td>
    <td data-label="Reason">${exception.reason}<small class="muted block">by ${exception.createdBy}, <${When} iso=${exception.createdAt} /></small></td>
    <td class="actions">
      ${confirming
        ? html`<button type="button" class="danger" disabled=${busy} onClick=${remove}>Withdraw ${exception.id}</button>
            <button type="button" onClick=${() => setConfirming(false)}>Keep</button>`
        : html`<button type="button" onClick=${() => setConfirming(true)} aria-label=${"Withdraw " + exception.id}>Withdraw</button>`}
    </td>
  </tr>`;
}

export function Exceptions() {
  const [problem, setProblem] = useState(null);
  const [{ data, error, loading }, reload] = usePolling(
    (signal) => getJson("/api/v1/exceptions", { signal }),
    [],
  );
  return html`<div class="page-head">
      <h1>Exceptions</h1>
      <a class="button primary" href="#/exceptions/new">Accept findings</a>
    </div>
    <p class="muted">Findings an active exception covers stay listed, marked accepted, but count in no severity total and no gate. An expired or withdrawn exception covers nothing.</p>
    <${ErrorNote} error=${problem || error} />
    ${!data
      ? loading && html`<${Loading} />`
      : data.items.length === 0
        ? html`<${Empty}>No exceptions.<//>`
        : html`<p data-testid="exception-counts">${data.active} active, ${data.expired} expired</p>
          <div class="table-wrap"><table class="stack exceptions">
            <caption class="sr-only">Exceptions</caption>
            <thead><tr><th scope="col">Covers</th><th scope="col">Status</th><th scope="col">Target</th><th scope="col">Owner</th><th scope="col">Expires</th><th scope="col">Reason</th><th scope="col">Actions</th></tr></thead>
            <tbody>${data.items.map((e) => html`<${Row} key=${e.id} exception=${e} onChanged=${reload} onError=${setProblem} />`)}</tbody>
          </table></div>`}`;
}

function inDays(days) {
  const date = new Date(Date.now() + days * 86_400_000);
  return date.toISOString().slice(0, 10);
}

const FIELDS = [
  { name: "fingerprint", label: "Finding fingerprint", hint: "One finding (32 hex digits). Leave empty to name a rule instead." },
  { name: "ruleId", label: "Rule id", hint: "Every finding of this rule, or those matching the pattern." },
  { name: "resourcePattern", label: "Resource pattern", hint: "Glob over the resource id, document or file, e.g. */resourceGroups/legacy-*" },
  { name: "targetId", label: "Only on target", hint: "A target id; empty: any target." },
  { name: "reason", label: "Reason", required: true },
  { name: "owner", label: "Owner", required: true, hint: "Who answers for the risk." },
  { name: "expiresAt", label: "Expires on", required: true, type: "date", hint: `At most ${MAX_DAYS} days ahead (end of that day, UTC).` },
];

function problemsOf(values) {
  const found = {};
  for (const field of FIELDS) {
    if (field.required && !String(values[field.name] || "").trim()) found[field.name] = "Required.";
  }
  if (!values.fingerprint.trim() && !values.ruleId.trim()) found.ruleId = "Give a rule id or a fingerprint.";
  if (values.fingerprint.trim() && values.ruleId.trim()) found.fingerprint = "Give a fingerprint or a rule id, not both.";
  return found;
}

export function ExceptionForm({ params }) {
  const [values, setValues] = useState(() => ({
    fingerprint: params.get("fingerprint") || "",
    ruleId: params.get("fingerprint") ? "" : params.get("rule") || "",
    resourcePattern: params.get("pattern") || "",
    targetId: params.get("target") || "",
    reason: "",
    owner: "",
    expiresAt: inDays(90),
  }));
  const [problems, setProblems] = useState({});
  const [failure, setFailure] = useState(null);
  const [busy, setBusy] = useState(false);
  const back = params.get("back") || "";

  async function submit(event) {
    event.preventDefault();
    const found = problemsOf(values);
    setProblems(found);
    setFailure(null);
    if (Object.keys(found).length) {
      document.getElementById("field-" + Object.keys(found)[0]).focus();
      return;
    }
    const body = {};
    for (const field of FIELDS) {
      const value = String(values[field.name] || "").trim();
      if (value) body[field.name] = value;
    }
    body.expiresAt = `${values.expiresAt}T23:59:59Z`;
    setBusy(true);
    try {
      await send("POST", "/api/v1/exceptions", body);
      if (back) location.hash = back;
      else navigate("/exceptions");
    } catch (error) {
      const byField = {};
      for (const detail of error.details || []) {
        const name = String(detail.field || "").split(".").pop();
        const message = String(detail.message || "").replace(/^Value error, /, "");
        if (FIELDS.some((f) => f.name === name)) byField[name] = message;
      }
      setProblems(byField);
      setFailure(error);
      setBusy(false);
    }
  }

  const set = (name) => (event) => setValues({ ...values, [name]: event.currentTarget.value });
  return html`<h1>Accept findings</h1>
    <form class="card form" onSubmit=${submit} novalidate>
      ${failure && html`<div class="error-note" role="alert">${failure.message}${failure.details ? ": " + failure.details.map((d) => d.message.replace(/^Value error, /, "")).join("; ") : ""}</div>`}
      ${FIELDS.map((field) =>
        formField(field, problems[field.name], (a) =>
          field.name === "reason"
            ? html`<textarea id=${a.id} rows="3" value=${values[field.name]} onInput=${set(field.name)}
                aria-invalid=${a.invalid} aria-describedby=${a.describedBy} aria-required="true"></textarea>`
            : html`<input id=${a.id} type=${field.type || "text"} value=${values[field.name]} onInput=${set(field.name)}
                min=${field.type === "date" ? inDays(0) : undefined} max=${field.type === "date" ? inDays(MAX_DAYS - 1) : undefined}
                aria-invalid=${a.invalid} aria-describedby=${a.describedBy}
                aria-required=${field.required ? "true" : undefined} autocomplete="off" spellcheck="false" />`,
        ),
      )}
      <div class="form-actions">
        <button type="submit" class="primary" disabled=${busy}>Accept</button>
        <a class="button" href=${back || "#/exceptions"}>Cancel</a>
      </div>
    </form>`;
}
