// A subscription scan's findings grouped two ways: by service (the rule's family) and by
// CIS Microsoft Azure Foundations control. Each group opens to its findings.
import { html } from "../html.js";
import { getJson } from "../api.js";
import { usePolling } from "../polling.js";
import { where } from "../findings-model.js";
import { ErrorNote, Loading, Section, SeverityBadge } from "../components.js";
import { SEVERITIES, severityRank } from "../format.js";

function group(findings, keysOf) {
  const groups = new Map();
  for (const finding of findings) {
    for (const key of keysOf(finding)) {
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(finding);
    }
  }
  return groups;
}

const controlOrder = (a, b) => {
  if (a === "not mapped" || b === "not mapped") return (a === "not mapped") - (b === "not mapped");
  const pa = a.split(/[ .]/).map(Number);
  const pb = b.split(/[ .]/).map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i += 1) {
    const d = (pa[i] || 0) - (pb[i] || 0);
    if (d) return d;
  }
  return a.localeCompare(b);
};

function Groups({ groups, order, label }) {
  if (!groups.size) return html`<p class="empty">No findings.</p>`;
  return html`<ul class="plain groups">
    ${[...groups.keys()].sort(order).map((key) => {
      const findings = groups.get(key).sort((a, b) => severityRank(a.severity) - severityRank(b.severity));
      const counts = SEVERITIES.map((s) => [s, findings.filter((f) => f.severity === s).length]).filter(([, n]) => n);
      return html`<li><details>
        <summary><span class="group-name">${label(key)}</span> <span class="muted">${findings.length}</span>
          ${counts.map(([s, n]) => html` <span class=${"badge sev-" + s}>${n} ${s}</span>`)}</summary>
        <ul class="plain">
          ${findings.slice(0, 200).map(
            (f) => html`<li><${SeverityBadge} severity=${f.severity} /> <code>${f.ruleId}</code> ${f.message}
              <small class="block muted">${where(f)}</small></li>`,
          )}
        </ul>
      </details></li>`;
    })}
  </ul>`;
}

export function ByService({ scan }) {
  const [{ data, error, loading }] = usePolling(
    (signal) => getJson(`/api/v1/scans/${encodeURIComponent(scan.scanId)}/findings`, { signal }),
    [scan.scanId, scan.status],
  );
  if (!data) return loading ? html`<${Loading} what="Loading findings" />` : html`<${ErrorNote} error=${error} />`;
  const benchmark = (scan.results && scan.results.cisBenchmark) || "CIS Microsoft Azure Foundations Benchmark";
  const byService = group(data.items, (f) => [f.family || "other"]);
  const byControl = group(data.items, (f) => (f.frameworks && f.frameworks[benchmark]) || ["not mapped"]);
  return html`<div class="grid two">
    <${Section} title="By service" id="service-title">
      <${Groups} groups=${byService} order=${(a, b) => byService.get(b).length - byService.get(a).length || a.localeCompare(b)} label=${(k) => k} />
    <//>
    <${Section} title=${"By control of the " + benchmark} id="control-title"
      action=${html`<a href=${"#/scans/" + encodeURIComponent(scan.scanId) + "/cis"}>Every control with its status</a>`}>
      <${Groups} groups=${byControl} order=${controlOrder} label=${(k) => (k === "not mapped" ? k : "CIS " + k)} />
    <//>
  </div>`;
}
