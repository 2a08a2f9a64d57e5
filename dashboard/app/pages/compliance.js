// A subscription scan through the CIS Microsoft Azure Foundations Benchmark: every control under
// its section with its status (filterable, kept in the URL); a control opens to why, the rules
// that check it, what they evaluated and the resources they found, each rule linking to its
// findings.
import { html } from "../html.js";
import { getJson } from "../api.js";
import { navigate } from "../router.js";
import { usePolling } from "../polling.js";
import { Empty, ErrorNote, Loading, SeverityBadge } from "../components.js";
import { isActive } from "../format.js";

export const FRAMEWORK = "cis-azure";
const STATUSES = [
  { id: "fail", title: "fail", total: "fail" },
  { id: "error", title: "error", total: "error" },
  { id: "pass", title: "pass", total: "pass" },
  { id: "not-applicable", title: "not applicable", total: "notApplicable" },
  { id: "not-checked", title: "not checked", total: "notChecked" },
];
const SHOWN_RESOURCES = 50;

function StatusTag({ status }) {
  const known = STATUSES.find((s) => s.id === status);
  return html`<span class=${"badge control-" + status}>${known ? known.title : status}</span>`;
}

function Rule({ scan, rule }) {
  const findingsHref = "#/scans/" + encodeURIComponent(scan.scanId) + "/findings?q=" + encodeURIComponent(rule.ruleId);
  const resources = rule.resources || [];
  return html`<li class="control-rule">
    <p>
      <code>${rule.ruleId}</code> ${rule.title}
      ${rule.severity && html` <${SeverityBadge} severity=${rule.severity} />`}
      <span class="muted">
        ${rule.status === "not-run" ? " · did not run in this scan" : ""}
        ${rule.evaluated !== null && rule.evaluated !== undefined ? ` · evaluated ${rule.evaluated}` : ""}
        ${rule.status !== "not-run" ? ` · ${rule.findings} finding${rule.findings === 1 ? "" : "s"}` : ""}
        ${rule.excepted ? ` · ${rule.excepted} accepted` : ""}
      </span>
      ${rule.findings > 0 && html` <a href=${findingsHref}>Show in findings</a>`}
    </p>
    ${rule.error && html`<p class="control-reason">${rule.error}</p>`}
    ${resources.length > 0 &&
    html`<ul class="plain resources">
      ${resources.slice(0, SHOWN_RESOURCES).map(
        (r) => html`<li><span class="block">${r.name || r.resourceId}</span>
          <small class="block muted"><code>${r.resourceId}</code></small>
          <small class="block">${r.message}</small></li>`,
      )}
      ${resources.length > SHOWN_RESOURCES &&
      html`<li class="muted">and ${resources.length - SHOWN_RESOURCES} more: <a href=${findingsHref}>all in findings</a></li>`}
    </ul>`}
  </li>`;
}

function Control({ scan, control }) {
  return html`<li class=${"control control-row-" + control.status} data-control=${control.id}>
    <details>
      <summary>
        <code class="control-id">${control.id}</code>
        <span class="control-title">${control.title}</span>
        <span class="control-meta">
          <${StatusTag} status=${control.status} />
          ${control.findings > 0 && html` <span class="muted">${control.findings} finding${control.findings === 1 ? "" : "s"}</span>`}
          <span class="muted"> · level ${control.level}${control.assessment === "manual" ? " · manual" : ""}</span>
        </span>
      </summary>
      ${control.reason && html`<p class="control-reason">${control.reason}</p>`}
      ${control.rules.length > 0 && html`<ul class="plain">${control.rules.map((rule) => html`<${Rule} scan=${scan} rule=${rule} />`)}</ul>`}
    </details>
  </li>`;
}

// Top-level sections (2 Identity, 3 Security services, ...) hold their controls, under a
// heading per subsection (2.1, 3.1.3, ...) where the benchmark has one.
function sections(document, shown) {
  const titles = new Map(document.sections.map((s) => [s.id, s.title]));
  const tops = [];
  for (const control of shown) {
    const top = control.id.split(".")[0];
    let group = tops[tops.length - 1];
    if (!group || group.id !== top) {
      group = { id: top, title: titles.get(top) || top, parts: [] };
      tops.push(group);
    }
    let part = group.parts[group.parts.length - 1];
    if (!part || part.id !== control.section) {
      part = { id: control.section, title: control.section === top ? null : titles.get(control.section), controls: [] };
      group.parts.push(part);
    }
    part.controls.push(control);
  }
  return tops;
}

export function Compliance({ scan, params }) {
  const chosen = (params.get("status") || "").split(",").filter((s) => STATUSES.some((x) => x.id === s));
  const [{ data, error, loading }] = usePolling(
    (signal) =>
      getJson(`/api/v1/scans/${encodeURIComponent(scan.scanId)}/report?format=json&framework=${FRAMEWORK}`, { signal }),
    [scan.scanId, scan.status],
  );
  if (!data) return loading ? html`<${Loading} what="Loading the compliance view" />` : html`<${ErrorNote} error=${error} />`;
  const path = `/scans/${scan.scanId}/cis`;
  const toggle = (status) => {
    const next = chosen.includes(status) ? chosen.filter((s) => s !== status) : [...chosen, status];
    navigate(path, { status: next.join(",") }, true);
  };
  const shown = data.controls.filter((c) => !chosen.length || chosen.includes(c.status));
  const totals = data.totals;
  return html`<div class="compliance">
    <p class="compliance-head">
      <strong>${data.framework.title}</strong>: ${totals.checked} of ${totals.controls} controls checked by this scan.
    </p>
    ${isActive(scan) && html`<p class="muted">The scan is still running; rules that have not run yet leave their controls not checked.</p>`}
    <form class="filters" aria-label="Filter controls" onSubmit=${(e) => e.preventDefault()}>
      <fieldset class="status-filter">
        <legend>Status</legend>
        ${STATUSES.map(
          (s) => html`<label class="check">
            <input type="checkbox" name="status" value=${s.id} checked=${chosen.includes(s.id)} onChange=${() => toggle(s.id)} />
            <${StatusTag} status=${s.id} /> <span class="muted" data-testid=${"total-" + s.id}>(${totals[s.total]})</span>
          </label>`,
        )}
      </fieldset>
    </form>
    <p aria-live="polite" data-testid="controls-count">${shown.length} of ${totals.controls} controls</p>
    ${shown.length === 0
      ? html`<${Empty}>No control has this status.<//>`
      : sections(data, shown).map(
          (top) => html`<section class="card control-section" aria-labelledby=${"cis-" + top.id}>
            <h2 id=${"cis-" + top.id}>${top.id} ${top.title}</h2>
            ${top.parts.map(
              (part) => html`${part.title && html`<h3>${part.id} ${part.title}</h3>`}
                <ul class="plain controls">${part.controls.map((c) => html`<${Control} scan=${scan} control=${c} />`)}</ul>`,
            )}
          </section>`,
        )}
  </div>`;
}
