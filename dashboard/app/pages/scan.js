// One scan: live status and progress (polled while it runs, never after), cancel, report
// downloads, and its tabs: summary with per-item results, findings, the kind's own view.
import { useState } from "../../vendor/preact-hooks.mjs";
import { html } from "../html.js";
import { download, getJson, send } from "../api.js";
import { usePolling } from "../polling.js";
import { ErrorNote, Loading, ProgressBar, StatusBadge, Tabs, When } from "../components.js";
import { dateTime, duration, isActive, words } from "../format.js";
import { Findings } from "./findings.js";
import { HostFacts } from "./host-facts.js";
import { TraceMatrix } from "./trace-matrix.js";
import { ByService } from "./by-service.js";
import { SourceView } from "./source.js";
import { Compare } from "./compare.js";
import { Compliance } from "./compliance.js";
import { SubscriptionBreakdown } from "./subscriptions.js";

const REPORTS = [
  { format: "json", title: "JSON", extension: "json" },
  { format: "sarif", title: "SARIF", extension: "sarif" },
  { format: "csv", title: "CSV", extension: "csv" },
  { format: "html", title: "HTML", extension: "html" },
];
const KIND_TITLE = { host: "Host scan", repository: "Repository scan", subscription: "Subscription scan" };
const KIND_VIEW = {
  host: [{ id: "facts", title: "Host facts" }],
  repository: [{ id: "trace", title: "Trace matrix" }],
  subscription: [
    { id: "services", title: "By service and control" },
    { id: "cis", title: "CIS Azure v3.0.0" },
  ],
};

function Items({ scan }) {
  // The service lists items of ended scans only: ask once, when this one has ended.
  const ended = !isActive(scan);
  const [{ data, error, loading }] = usePolling(
    (signal) => (ended ? getJson(`/api/v1/scans/${encodeURIComponent(scan.scanId)}?include=items`, { signal }) : null),
    [scan.scanId, ended],
  );
  if (isActive(scan)) return html`<p class="muted">Per-item results appear when the scan ends.</p>`;
  if (!data) return loading ? html`<${Loading} what="Loading items" />` : html`<${ErrorNote} error=${error} />`;
  const items = data.items || [];
  if (!items.length) return html`<p class="empty">This scan has no item results.</p>`;
  return html`<div class="table-wrap"><table class="items stack">
    <caption>Items (${items.length})</caption>
    <thead><tr><th scope="col">Item</th><th scope="col">Status</th><th scope="col">Findings</th><th scope="col">Duration</th><th scope="col">Error</th></tr></thead>
    <tbody>
      ${items.map(
        (i) => html`<tr key=${i.itemId}>
          <th scope="row"><code>${i.itemId}</code> <span class="cell-title">${i.title}</span></th>
          <td data-label="Status"><span class=${"badge item-" + i.status}>${i.status}</span></td>
          <td data-label="Findings" class="num">${i.findings}</td>
          <td data-label="Duration" class="num">${i.durationMs} ms</td>
          <td data-label=${i.error ? "Error" : undefined}>${i.error || ""}</td>
        </tr>`,
      )}
    </tbody>
  </table></div>`;
}

// What a completed scan carries about the previous one, with the way to the comparison.
function Delta({ scan }) {
  const comparison = scan.results && scan.results.comparison;
  if (scan.status !== "completed" || !comparison) return null;
  const link = "#/scans/" + encodeURIComponent(scan.scanId) + "/compare";
  return html`<p class="delta" data-testid="delta">
    ${comparison.baselineScanId
      ? html`Since the previous scan: <strong>${comparison.newFindings} new</strong>, <strong>${comparison.resolvedFindings} resolved</strong> findings.`
      : "The target's first completed scan: every finding is new."}
    ${" "}<a href=${link}>Compare with the previous scan</a>
  </p>`;
}

function Summary({ scan }) {
  const counters = Object.entries(scan.counters || {});
  return html`<${Delta} scan=${scan} />
    <dl class="facts">
      <div><dt>Target</dt><dd>${scan.targetType}: ${scan.targetId}</dd></div>
      <div><dt>Trigger</dt><dd>${scan.trigger}</dd></div>
      <div><dt>Created</dt><dd>${dateTime(scan.createdAt)}</dd></div>
      <div><dt>Started</dt><dd>${dateTime(scan.startedAt) || "not yet"}</dd></div>
      <div><dt>Completed</dt><dd>${dateTime(scan.completedAt) || "not yet"}</dd></div>
      <div><dt>Duration</dt><dd>${duration(scan.startedAt, scan.completedAt)}</dd></div>
      ${counters.map(([name, value]) => html`<div><dt>${words(name)}</dt><dd class="num">${value}</dd></div>`)}
    </dl>
    <${SubscriptionBreakdown} scan=${scan} />
    <${Items} scan=${scan} />`;
}

function Header({ scan, onChanged }) {
  const [problem, setProblem] = useState(null);
  const [busy, setBusy] = useState(false);
  async function cancel() {
    setBusy(true);
    try {
      await send("POST", `/api/v1/scans/${encodeURIComponent(scan.scanId)}/cancel`);
      onChanged();
    } catch (error) {
      setProblem(error);
      onChanged();
    } finally {
      setBusy(false);
    }
  }
  async function report(kind) {
    setProblem(null);
    try {
      await download(`/api/v1/scans/${encodeURIComponent(scan.scanId)}/report?format=${kind.format}`, `scan-${scan.scanId}.${kind.extension}`);
    } catch (error) {
      setProblem(error);
    }
  }
  return html`<div class="page-head">
      <h1>${KIND_TITLE[scan.targetType] || words(scan.targetType) + " scan"} of ${scan.targetId}</h1>
      ${isActive(scan) &&
      html`<button type="button" class="danger" onClick=${cancel} disabled=${busy}>Cancel scan</button>`}
    </div>
    <div class="scan-status card">
      <p class="status-line">
        <${StatusBadge} status=${scan.status} position=${scan.queuePosition} />
        <span data-testid="phase">${scan.currentPhase}${scan.currentStep ? ": " + scan.currentStep : ""}</span>
        <span class="muted">${scan.status === "queued" ? "triggered" : "started"} <${When} iso=${scan.startedAt || scan.createdAt} /></span>
      </p>
      ${scan.status === "queued" && html`<p class="muted" data-testid="queue-note">${queueNote(scan)}</p>`}
      <${ProgressBar} value=${scan.progress} label="Scan progress" />
      ${scan.errorMessage && html`<p class="error-note" role="alert">${scan.errorMessage}</p>`}
      <${ErrorNote} error=${problem} />
      ${!isActive(scan) &&
      html`<div class="downloads" role="group" aria-label="Download the report">
        <span>Report:</span>
        ${REPORTS.map((r) => html`<button type="button" onClick=${() => report(r)}>${r.title}</button>`)}
      </div>`}
    </div>`;
}

function queueNote(scan) {
  const ahead = (scan.queuePosition || 1) - 1;
  const before = ahead === 0 ? "it starts next" : `${ahead} ${words(scan.targetType).toLowerCase()} scan${ahead > 1 ? "s" : ""} start before it`;
  return `Waiting for its turn: ${before}, as soon as a running one ends.`;
}

export function ScanPage({ scanId, tab, params }) {
  const [{ data: scan, error, loading }, reload] = usePolling(
    (signal) => getJson(`/api/v1/scans/${encodeURIComponent(scanId)}`, { signal }),
    [scanId],
    isActive,
  );
  if (!scan) return loading ? html`<${Loading} what="Loading the scan" />` : html`<${ErrorNote} error=${error} />`;
  const base = "#/scans/" + encodeURIComponent(scanId);
  const kindViews = KIND_VIEW[scan.targetType] || [];
  const tabs = [
    { id: "summary", href: base, title: "Summary" },
    { id: "findings", href: base + "/findings", title: "Findings" },
    ...kindViews.map((view) => ({ id: view.id, href: base + "/" + view.id, title: view.title })),
    { id: "compare", href: base + "/compare", title: "Compare" },
  ];
  let body;
  if (tab === "findings") body = html`<${Findings} scan=${scan} params=${params} />`;
  else if (tab === "facts" && scan.targetType === "host") body = html`<${HostFacts} scan=${scan} />`;
  else if (tab === "trace" && scan.targetType === "repository") body = html`<${TraceMatrix} scan=${scan} params=${params} />`;
  else if (tab === "source" && scan.targetType === "repository") body = html`<${SourceView} scan=${scan} params=${params} />`;
  else if (tab === "services" && scan.targetType === "subscription") body = html`<${ByService} scan=${scan} />`;
  else if (tab === "cis" && scan.targetType === "subscription") body = html`<${Compliance} scan=${scan} params=${params} />`;
  else if (tab === "compare") body = html`<${Compare} scan=${scan} params=${params} />`;
  else body = html`<${Summary} scan=${scan} />`;
  return html`<${Header} scan=${scan} onChanged=${reload} />
    <${ErrorNote} error=${error} />
    <${Tabs} tabs=${tabs} current=${tab === "source" ? "trace" : tab} label="Views of this scan" />
    <div class="tab-body">${body}</div>`;
}
