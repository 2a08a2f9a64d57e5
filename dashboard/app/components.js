// Pieces every page uses. Scanned text is always passed as a child (Preact inserts text
// nodes), never as markup.
import { html } from "./html.js";
import { ago, dateTime, inLine } from "./format.js";

// A queued scan's badge names its place: "queued · 3rd in line".
export function StatusBadge({ status, position }) {
  const place = status === "queued" && position ? " · " + inLine(position) : "";
  return html`<span class=${"badge status-" + status}>${status || "unknown"}${place}</span>`;
}

export function SeverityBadge({ severity }) {
  return html`<span class=${"badge sev-" + severity}>${severity}</span>`;
}

// A finding an active exception accepts: the badge, then who answers for it, until when, why.
export function AcceptedNote({ accepted }) {
  if (!accepted) return null;
  return html`<span class="accepted-note block">
    <span class="badge accepted">accepted</span>
    <small> by ${accepted.owner} until ${dateTime(accepted.expiresAt)}: ${accepted.reason}${" "}
      (<a href="#/exceptions">${accepted.exceptionId}</a>)</small>
  </span>`;
}

export function ProgressBar({ value, label = "Progress" }) {
  const percent = Math.max(0, Math.min(100, Number(value) || 0));
  return html`<div class="progress">
    <progress max="100" value=${percent} aria-label=${label}></progress>
    <span class="progress-value" data-testid="progress-value">${percent} %</span>
  </div>`;
}

export function Meter({ percent, label }) {
  const value = Math.max(0, Math.min(100, Number(percent) || 0));
  return html`<span class="meter-line">
    <meter min="0" max="100" low="70" high="90" optimum="0" value=${value} aria-label=${label}></meter>
    <span>${value} %</span>
  </span>`;
}

export function ErrorNote({ error, children }) {
  if (!error && !children) return null;
  return html`<div class="error-note" role="alert">${error ? error.message : children}</div>`;
}

export function Loading({ what = "Loading" }) {
  return html`<p class="muted" aria-live="polite">${what}…</p>`;
}

export function Empty({ children }) {
  return html`<p class="empty">${children}</p>`;
}

export function When({ iso }) {
  if (!iso) return html`<span class="muted">never</span>`;
  return html`<time datetime=${iso} title=${dateTime(iso)}>${ago(iso)}</time>`;
}

// Links styled as tabs; `current` names the active one.
export function Tabs({ tabs, current, label }) {
  return html`<nav class="tabs" aria-label=${label}>
    ${tabs.map(
      (tab) =>
        html`<a href=${tab.href} aria-current=${tab.id === current ? "page" : undefined}>${tab.title}</a>`,
    )}
  </nav>`;
}

export function Pager({ page, pages, onPage, label = "Pages" }) {
  if (pages <= 1) return null;
  return html`<nav class="pager" aria-label=${label}>
    <button type="button" disabled=${page <= 0} onClick=${() => onPage(page - 1)}>Previous</button>
    <span>Page ${page + 1} of ${pages}</span>
    <button type="button" disabled=${page >= pages - 1} onClick=${() => onPage(page + 1)}>Next</button>
  </nav>`;
}

// A section header with an optional side action.
export function Section({ title, action, children, id }) {
  return html`<section class="card" aria-labelledby=${id}>
    <div class="card-head"><h2 id=${id}>${title}</h2>${action || null}</div>
    ${children}
  </section>`;
}

// One labelled form field. Its hint and its problem are tied to the control for screen
// readers: `control(a)` renders the input with `a.id`, `a.invalid` and `a.describedBy`.
export function formField(field, problem, control) {
  const id = "field-" + field.name;
  const hintId = field.hint ? id + "-hint" : undefined;
  const errorId = problem ? id + "-error" : undefined;
  const describedBy = [hintId, errorId].filter(Boolean).join(" ") || undefined;
  return html`<div class=${"field" + (problem ? " invalid" : "")}>
    <label for=${id}>${field.label}${field.required ? " (required)" : ""}</label>
    ${control({ id, invalid: problem ? "true" : undefined, describedBy })}
    ${field.hint && html`<small id=${hintId} class="hint">${field.hint}</small>`}
    ${problem && html`<small id=${errorId} class="field-error">${problem}</small>`}
  </div>`;
}
