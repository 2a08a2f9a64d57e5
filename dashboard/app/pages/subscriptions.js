// A scan of several subscriptions (a list, or a management group's): each one with its
// findings, or why it could not be read, and the findings about the tenant as a whole.
import { html } from "../html.js";
import { SEVERITIES } from "../format.js";

function severities(counts) {
  const parts = SEVERITIES.filter((s) => counts && counts[s]).map((s) => `${counts[s]} ${s}`);
  return parts.length ? parts.join(", ") : "none";
}

export function SubscriptionBreakdown({ scan }) {
  const results = scan.results || {};
  const rows = results.subscriptions || [];
  if (scan.targetType !== "subscription" || !results.scope || results.scope === "subscription" || !rows.length) return null;
  const scanned = rows.filter((r) => r.status === "scanned").length;
  const unreadable = rows.length - scanned;
  const findings = "#/scans/" + encodeURIComponent(scan.scanId) + "/findings?q=";
  const group = results.managementGroupId ? ` under management group ${results.managementGroupId}` : "";
  return html`<div class="table-wrap" data-testid="subscriptions"><table class="stack">
      <caption>Subscriptions${group}: ${scanned} scanned${unreadable ? `, ${unreadable} could not be read` : ""}</caption>
      <thead><tr><th scope="col">Subscription</th><th scope="col">Status</th><th scope="col">Resources</th><th scope="col">Findings</th><th scope="col">By severity, or why not read</th></tr></thead>
      <tbody>
        ${rows.map((r) => {
          const read = r.status === "scanned";
          return html`<tr key=${r.subscriptionId}>
            <th scope="row"><span class="cell-title">${r.displayName || r.subscriptionId}</span>${r.displayName ? html`<small class="muted block"><code>${r.subscriptionId}</code></small>` : null}</th>
            <td data-label="Status"><span class=${"badge item-" + (read ? "passed" : "error")}>${read ? "scanned" : "not readable"}</span></td>
            <td data-label="Resources" class="num">${read ? r.resources : "—"}</td>
            <td data-label="Findings" class="num">${read ? (r.findings ? html`<a href=${findings + encodeURIComponent(r.subscriptionId)} aria-label=${`${r.findings} findings in ${r.displayName || r.subscriptionId}`}>${r.findings}</a>` : "0") : "—"}</td>
            <td data-label=${read ? "By severity" : "Why not read"}>${read ? severities(r.findingsBySeverity) : r.reason}</td>
          </tr>`;
        })}
      </tbody>
    </table></div>
    ${results.tenantFindings
      ? html`<p class="muted" data-testid="tenant-findings">${results.tenantFindings} finding${results.tenantFindings > 1 ? "s" : ""} about the tenant's identities (Microsoft Entra ID) belong to no one subscription.</p>`
      : null}`;
}
