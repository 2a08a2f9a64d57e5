// Overview: targets per kind, scans running now (live), the last 24 hours, open findings by
// severity (the latest finished scan of each target) and a trend over the last scans.
import { html } from "../html.js";
import { getJson, query } from "../api.js";
import { usePolling } from "../polling.js";
import { ErrorNote, Loading, ProgressBar, Section, SeverityBadge, StatusBadge, When } from "../components.js";
import { KINDS, SEVERITIES, findingsBySeverity, findingsTotal, isActive } from "../format.js";

const RECENT = 100;
const DAY_MS = 24 * 3600 * 1000;
const IDLE_REFRESH_MS = 15_000;

async function loadOverview(signal) {
  const [recent, ...targets] = await Promise.all([
    getJson("/api/v1/scans" + query({ limit: RECENT }), { signal }),
    ...KINDS.map((kind) => getJson(`/api/v1/${kind.plural}?limit=200`, { signal })),
  ]);
  return { scans: recent.items, targets: Object.fromEntries(KINDS.map((k, i) => [k.name, targets[i].items])) };
}

function openFindings(scans) {
  // The newest finished scan of each target stands for what is open now.
  const latest = new Map();
  for (const scan of scans) {
    if (scan.status === "completed" && !latest.has(scan.targetType + "/" + scan.targetId)) {
      latest.set(scan.targetType + "/" + scan.targetId, scan);
    }
  }
  const totals = Object.fromEntries(SEVERITIES.map((s) => [s, 0]));
  for (const scan of latest.values()) {
    for (const [severity, count] of Object.entries(findingsBySeverity(scan))) {
      totals[severity] = (totals[severity] || 0) + count;
    }
  }
  return totals;
}

function Trend({ scans }) {
  const points = scans
    .filter((s) => s.status === "completed")
    .slice(0, 20)
    .reverse()
    .map((s) => ({ id: s.scanId, target: s.targetId, total: findingsTotal(s) }));
  if (!points.length) return html`<p class="empty">No finished scans yet.</p>`;
  const max = Math.max(1, ...points.map((p) => p.total));
  const width = 20;
  // Room for 20 bars whatever the count, so a few scans do not make wide slabs.
  return html`<figure class="trend">
    <svg viewBox=${`0 0 ${20 * width} 100`} preserveAspectRatio="none" role="img"
      aria-label=${`Findings of the last ${points.length} finished scans, oldest first`}>
      ${points.map((p, i) => {
        const height = Math.max(2, (p.total / max) * 96);
        return html`<rect x=${i * width + 3} y=${100 - height} width=${width - 6} height=${height}>
          <title>${p.target}: ${p.total} findings</title>
        </rect>`;
      })}
    </svg>
    <figcaption>Findings per finished scan, oldest to newest (highest: ${max}).</figcaption>
  </figure>`;
}

export function Overview() {
  const [{ data, error, loading }] = usePolling(
    loadOverview,
    [],
    (d) => d.scans.some(isActive),
    IDLE_REFRESH_MS,
  );
  if (!data) return loading ? html`<${Loading} />` : html`<${ErrorNote} error=${error} />`;
  const running = data.scans.filter(isActive);
  const since = Date.now() - DAY_MS;
  const lastDay = data.scans.filter((s) => s.completedAt && new Date(s.completedAt).getTime() >= since);
  const count = (status) => lastDay.filter((s) => s.status === status).length;
  const open = openFindings(data.scans);
  return html`<h1>Overview</h1>
    <${ErrorNote} error=${error} />
    <div class="grid">
      <${Section} title="Targets" id="targets-title">
        <dl class="stats">
          ${KINDS.map(
            (kind) => html`<div>
              <dt><a href=${"#/targets/" + kind.plural}>${kind.title}</a></dt>
              <dd>${data.targets[kind.name].length}</dd>
            </div>`,
          )}
        </dl>
      <//>
      <${Section} title="Last 24 hours" id="day-title">
        <dl class="stats">
          <div><dt>Completed</dt><dd>${count("completed")}</dd></div>
          <div><dt>Failed</dt><dd class=${count("failed") ? "bad" : ""}>${count("failed")}</dd></div>
          <div><dt>Cancelled</dt><dd>${count("cancelled")}</dd></div>
        </dl>
      <//>
      <${Section} title="Open findings" id="open-title">
        <dl class="stats">
          ${SEVERITIES.map(
            (s) => html`<div><dt><${SeverityBadge} severity=${s} /></dt><dd>${open[s] || 0}</dd></div>`,
          )}
        </dl>
        <p class="muted small">From the newest completed scan of each target.</p>
      <//>
    </div>
    <${Section} title=${`Running now (${running.length})`} id="running-title">
      ${running.length
        ? html`<div class="table-wrap"><table class="stack">
            <thead><tr><th scope="col">Target</th><th scope="col">Status</th><th scope="col">Phase</th><th scope="col">Progress</th></tr></thead>
            <tbody>
              ${running.map(
                (s) => html`<tr>
                  <th scope="row"><a href=${"#/scans/" + s.scanId}>${s.targetType}: ${s.targetId}</a></th>
                  <td data-label="Status"><${StatusBadge} status=${s.status} /></td>
                  <td data-label="Phase">${s.currentPhase}${s.currentStep ? ": " + s.currentStep : ""}</td>
                  <td data-label="Progress"><${ProgressBar} value=${s.progress} label=${"Progress of " + s.targetId} /></td>
                </tr>`,
              )}
            </tbody>
          </table></div>`
        : html`<p class="empty">No scan is running.</p>`}
    <//>
    <${Section} title="Trend" id="trend-title"><${Trend} scans=${data.scans} /><//>
    <${Section} title="Latest scans" id="latest-title"
      action=${html`<a href="#/scans">All scans</a>`}>
      <ul class="plain">
        ${data.scans.slice(0, 5).map(
          (s) => html`<li>
            <a href=${"#/scans/" + s.scanId}>${s.targetType}: ${s.targetId}</a>
            ${" "}<${StatusBadge} status=${s.status} /> <${When} iso=${s.createdAt} />
          </li>`,
        )}
      </ul>
    <//>`;
}
