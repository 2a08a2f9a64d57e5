// Findings of one scan: filter by severity and text (kept in the URL), page through them,
// export exactly what is filtered as CSV.
import { useState } from "../../vendor/preact-hooks.mjs";
import { html } from "../html.js";
import { getJson, saveBlob } from "../api.js";
import { href, navigate } from "../router.js";
import { usePolling } from "../polling.js";
import { toCsv } from "../csv.js";
import { controls, filterFindings, where } from "../findings-model.js";
import { AcceptedNote, Empty, ErrorNote, Loading, Pager, SeverityBadge } from "../components.js";
import { SEVERITIES, isActive } from "../format.js";

const PAGE = 100;

// Messages often repeat the rule's title first ("Title: what was found"); it is shown above.
function withoutTitle(finding) {
  const prefix = finding.title + ": ";
  return finding.message.startsWith(prefix) ? finding.message.slice(prefix.length) : finding.message;
}

function exportCsv(scan, findings) {
  const rows = findings.map((f) => [
    f.severity, f.ruleId, f.title, f.message, where(f), f.family || "", controls(f).join("; "), f.itemId, f.remediation,
    f.accepted ? f.accepted.exceptionId : "",
  ]);
  const header = ["severity", "rule_id", "title", "message", "location", "service", "controls", "item", "remediation", "accepted_by"];
  const text = toCsv(header, rows);
  saveBlob(new Blob([text], { type: "text/csv;charset=utf-8" }), `scan-${scan.scanId}-findings.csv`);
}

// The Exceptions form, prefilled for this one finding, coming back here afterwards.
function acceptHref(scan, finding) {
  return href("/exceptions/new", {
    fingerprint: finding.fingerprint,
    rule: finding.ruleId,
    target: scan.targetId,
    back: location.hash,
  });
}

export function Findings({ scan, params }) {
  const severities = (params.get("severity") || "").split(",").filter((s) => SEVERITIES.includes(s));
  const text = params.get("q") || "";
  const [draft, setDraft] = useState(text);
  const [page, setPage] = useState(0);
  const [{ data, error, loading }] = usePolling(
    (signal) => getJson(`/api/v1/scans/${encodeURIComponent(scan.scanId)}/findings`, { signal }),
    [scan.scanId, scan.status],
  );
  const path = `/scans/${scan.scanId}/findings`;
  const apply = (change) => {
    setPage(0);
    navigate(path, { severity: severities.join(","), q: text, ...change }, true);
  };
  const toggle = (severity) => {
    const chosen = severities.includes(severity) ? severities.filter((s) => s !== severity) : [...severities, severity];
    apply({ severity: chosen.join(",") });
  };
  if (!data) return loading ? html`<${Loading} what="Loading findings" />` : html`<${ErrorNote} error=${error} />`;
  const shown = filterFindings(data.items, severities, text);
  const pages = Math.max(1, Math.ceil(shown.length / PAGE));
  const current = Math.min(page, pages - 1);
  return html`<form class="filters" role="search" aria-label="Filter findings" onSubmit=${(e) => {
        e.preventDefault();
        apply({ q: draft });
      }}>
      <fieldset class="severity-filter">
        <legend>Severity</legend>
        ${SEVERITIES.map(
          (s) => html`<label class="check">
            <input type="checkbox" name="severity" value=${s} checked=${severities.includes(s)} onChange=${() => toggle(s)} />
            ${s} <span class="muted">(${data.items.filter((f) => f.severity === s).length})</span>
          </label>`,
        )}
      </fieldset>
      <div class="field grow">
        <label for="finding-search">Search</label>
        <input id="finding-search" type="search" value=${draft} placeholder="rule, message, file, resource…"
          onInput=${(e) => setDraft(e.currentTarget.value)} onChange=${(e) => apply({ q: e.currentTarget.value })} />
      </div>
      <button type="button" onClick=${() => exportCsv(scan, shown)} disabled=${!shown.length}>Export ${shown.length} as CSV</button>
    </form>
    ${isActive(scan) && html`<p class="muted">The scan is still running; findings so far.</p>`}
    <p aria-live="polite" data-testid="findings-count">${shown.length} of ${data.total} findings${data.accepted ? html`, <span data-testid="accepted-count">${data.accepted} accepted</span> (not counted)` : ""}</p>
    ${shown.length === 0
      ? html`<${Empty}>No findings match.<//>`
      : html`<div class="table-wrap"><table class="findings stack">
          <thead><tr><th scope="col">Severity</th><th scope="col">Rule</th><th scope="col">Finding</th><th scope="col">Where</th></tr></thead>
          <tbody>
            ${shown.slice(current * PAGE, current * PAGE + PAGE).map(
              (f, n) => html`<tr key=${n} class=${f.accepted ? "is-accepted" : undefined}>
                <td><${SeverityBadge} severity=${f.severity} /></td>
                <td data-label="Rule"><code>${f.ruleId}</code><small class="block muted">${f.family || ""}</small></td>
                <td><span class="cell-title">${f.title}</span><span class="block">${withoutTitle(f)}</span>
                  <${AcceptedNote} accepted=${f.accepted} />
                  ${f.remediation && html`<details><summary>Remediation</summary><p>${f.remediation}</p></details>`}</td>
                <td data-label="Where" class="where"><code>${where(f)}</code>
                  ${!f.accepted && html`<a class="block accept-link" href=${acceptHref(scan, f)} aria-label=${`Accept ${f.ruleId} at ${where(f)}`}>Accept…</a>`}</td>
              </tr>`,
            )}
          </tbody>
        </table></div>
        <${Pager} page=${current} pages=${pages} onPage=${setPage} label="Pages of findings" />`}`;
}
