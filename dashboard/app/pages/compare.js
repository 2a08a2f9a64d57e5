// What changed between this scan and an earlier (or any other completed) scan of its target:
// findings new, resolved and unchanged, and the facts that changed per kind. The URL holds the
// other scan and the filters (#/scans/ID/compare?against=previous&show=new,resolved&severity=high).
import { useState } from "../../vendor/preact-hooks.mjs";
import { html } from "../html.js";
import { download, getJson, query, saveBlob } from "../api.js";
import { navigate } from "../router.js";
import { usePolling } from "../polling.js";
import { toCsv } from "../csv.js";
import { where } from "../findings-model.js";
import {
  CHANGES,
  FINDING_COLUMNS,
  commitChange,
  comparedFindings,
  factGroups,
  findingRows,
  notComparedFields,
} from "../comparison-model.js";
import { AcceptedNote, Empty, ErrorNote, Loading, Pager, Section, SeverityBadge } from "../components.js";
import { SEVERITIES, dateTime, words } from "../format.js";

const PAGE = 100;
const FACT_ROWS = 200;
const DEFAULT_CHANGES = ["new", "resolved"];
const DOWNLOADS = [
  { format: "csv", title: "CSV", extension: "csv" },
  { format: "html", title: "HTML", extension: "html" },
  { format: "sarif", title: "SARIF", extension: "sarif" },
  { format: "json", title: "JSON", extension: "json" },
];

function diffPath(scanId, against, format = "json") {
  return `/api/v1/scans/${encodeURIComponent(scanId)}/diff` + query({ against, format });
}

// The other scan: the previous completed one, or one the user picks from the target's
// completed scans (newest first).
function AgainstPicker({ scan, against, onPick }) {
  const [{ data }] = usePolling(
    (signal) =>
      getJson(
        "/api/v1/scans" + query({ targetType: scan.targetType, targetId: scan.targetId, status: "completed", limit: 50 }),
        { signal },
      ),
    [scan.targetType, scan.targetId],
  );
  const others = ((data && data.items) || []).filter((s) => s.scanId !== scan.scanId);
  const listed = others.some((s) => s.scanId === against);
  return html`<div class="field">
    <label for="compare-against">Compare with</label>
    <select id="compare-against" value=${against} onChange=${(e) => onPick(e.currentTarget.value)}>
      <option value="previous">the previous completed scan</option>
      ${against !== "previous" && !listed && html`<option value=${against}>scan ${against}</option>`}
      ${others.map(
        (s) => html`<option value=${s.scanId}>
          ${dateTime(s.completedAt)} · ${s.scanId}${s.scanId > scan.scanId ? " (later)" : ""}
        </option>`,
      )}
    </select>
  </div>`;
}

function Counts({ document }) {
  const { counts, bySeverity } = document.findings;
  const accepted = document.findings.accepted || {};
  return html`<dl class="stats compare-counts" data-testid="compare-counts">
    ${CHANGES.map(
      (change) => html`<div class=${"count-" + change}>
        <dt>${words(change)}</dt>
        <dd>${counts[change]}</dd>
        ${accepted[change] ? html`<dd class="muted">+${accepted[change]} accepted</dd>` : null}
        <dd class="by-severity">${SEVERITIES.filter((s) => (bySeverity[change] || {})[s]).map(
          (s) => html`<span class=${"badge sev-" + s}>${bySeverity[change][s]} ${s}</span> `,
        )}</dd>
      </div>`,
    )}
  </dl>`;
}

function ChangeBadge({ change, tone }) {
  return html`<span class=${"badge change-" + (tone || change)}>${change}</span>`;
}

function exportCsv(document, shown) {
  const text = toCsv(FINDING_COLUMNS, findingRows(shown));
  const baseline = document.baseline ? document.baseline.scanId : "none";
  saveBlob(new Blob([text], { type: "text/csv;charset=utf-8" }), `compare-${document.scanId}-${baseline}-findings.csv`);
}

function FindingsDelta({ document, changes, severities, onFilter }) {
  const [page, setPage] = useState(0);
  const shown = comparedFindings(document, changes, severities);
  const pages = Math.max(1, Math.ceil(shown.length / PAGE));
  const current = Math.min(page, pages - 1);
  const toggle = (chosen, value) => (chosen.includes(value) ? chosen.filter((v) => v !== value) : [...chosen, value]);
  return html`<${Section} title="Findings" id="compare-findings-title">
    <${Counts} document=${document} />
    <div class="filters" role="group" aria-label="Filter the findings compared">
      <fieldset>
        <legend>Show</legend>
        ${CHANGES.map(
          (c) => html`<label class="check">
            <input type="checkbox" name="change" value=${c} checked=${changes.includes(c)}
              onChange=${() => { setPage(0); onFilter({ show: toggle(changes, c) }); }} />
            ${c} <span class="muted">(${document.findings.counts[c]})</span>
          </label>`,
        )}
      </fieldset>
      <fieldset>
        <legend>Severity</legend>
        ${SEVERITIES.map(
          (s) => html`<label class="check">
            <input type="checkbox" name="compare-severity" value=${s} checked=${severities.includes(s)}
              onChange=${() => { setPage(0); onFilter({ severity: toggle(severities, s) }); }} />
            ${s}
          </label>`,
        )}
      </fieldset>
      <button type="button" onClick=${() => exportCsv(document, shown)} disabled=${!shown.length}>
        Export ${shown.length} as CSV
      </button>
    </div>
    <p aria-live="polite" data-testid="compare-shown">${shown.length} finding${shown.length === 1 ? "" : "s"} shown</p>
    ${shown.length === 0
      ? html`<${Empty}>No finding of the chosen kind.<//>`
      : html`<div class="table-wrap"><table class="stack compared-findings">
          <thead><tr><th scope="col">Change</th><th scope="col">Severity</th><th scope="col">Rule</th><th scope="col">Finding</th><th scope="col">Where</th></tr></thead>
          <tbody>
            ${shown.slice(current * PAGE, current * PAGE + PAGE).map(
              (f) => html`<tr key=${f.change + f.fingerprint + f.message}>
                <td><${ChangeBadge} change=${f.change} /></td>
                <td><${SeverityBadge} severity=${f.severity} /></td>
                <td data-label="Rule"><code>${f.ruleId}</code></td>
                <td><span class="cell-title">${f.title}</span><span class="block">${f.message}</span>
                  <${AcceptedNote} accepted=${f.accepted} /></td>
                <td data-label="Where" class="where"><code>${where(f)}</code></td>
              </tr>`,
            )}
          </tbody>
        </table></div>
        <${Pager} page=${current} pages=${pages} onPage=${setPage} label="Pages of compared findings" />`}
  <//>`;
}

const blank = (value) => value === "" || (Array.isArray(value) && !value.length);

function Cell({ value }) {
  if (blank(value)) return null;
  if (Array.isArray(value)) return html`${value.map((line) => html`<span class="block">${line}</span>`)}`;
  return value;
}

function FactTable({ group }) {
  const [all, setAll] = useState(false);
  const rows = all ? group.rows : group.rows.slice(0, FACT_ROWS);
  const changed = group.rows.some((r) => r.change);
  return html`<div class="table-wrap"><table class="stack fact-changes" data-testid=${"facts-" + group.group}>
      <thead><tr>
        ${changed && html`<th scope="col">Change</th>`}
        ${group.columns.map((c) => html`<th scope="col">${c}</th>`)}
      </tr></thead>
      <tbody>${rows.map(
        (row) => html`<tr>
          ${changed && html`<td><${ChangeBadge} change=${row.change} tone=${row.tone} /></td>`}
          ${row.cells.map(
            (cell, n) => html`<td data-label=${n && !blank(cell) ? group.columns[n] : undefined} class=${n ? "" : "subject"}><${Cell} value=${cell} /></td>`,
          )}
        </tr>`,
      )}</tbody>
    </table></div>
    ${group.rows.length > rows.length &&
    html`<button type="button" onClick=${() => setAll(true)}>Show all ${group.rows.length} changes</button>`}`;
}

function Facts({ document }) {
  if (!document.baseline) {
    return html`<${Section} title="Facts" id="compare-facts-title">
      <p class="empty">There is no earlier completed scan of this target: nothing to compare the facts with.</p>
    <//>`;
  }
  const groups = factGroups(document);
  if (!groups.length) return null;
  const changed = groups.filter((g) => g.rows.length);
  const same = groups.filter((g) => !g.rows.length && !g.reason);
  const skipped = [
    ...groups.filter((g) => g.reason).map((g) => [g.title, g.reason]),
    ...notComparedFields(document).map(([name, why]) => [words(name), why]),
  ];
  const commit = commitChange(document);
  const said = commit || changed.length === 0 || same.length > 0 || skipped.length > 0;
  return html`${said &&
    html`<${Section} title="Facts" id="compare-facts-title">
      ${commit &&
      html`<p data-testid="compare-commit">Commit <code>${commit.from}</code> → <code>${commit.to}</code>${commit.same ? " (the same commit)" : ""}</p>`}
      ${changed.length === 0 && html`<p class="empty">No fact changed.</p>`}
      ${same.length > 0 && html`<p class="muted">No change in: ${same.map((g) => g.title.toLowerCase()).join(", ")}.</p>`}
      ${skipped.length > 0 &&
      html`<ul class="plain not-compared" aria-label="Not compared">
        ${skipped.map(([what, why]) => html`<li><span class="cell-title">${what}</span>: not compared (${why})</li>`)}
      </ul>`}
    <//>`}
    ${changed.map(
      (g) => html`<${Section} title=${`${g.title} (${g.rows.length})`} id=${"compare-" + g.group + "-title"}>
        ${g.summary && html`<p>${g.summary}</p>`}
        <${FactTable} group=${g} />
      <//>`,
    )}`;
}

function Downloads({ scanId, against }) {
  const [problem, setProblem] = useState(null);
  async function save(kind) {
    setProblem(null);
    try {
      await download(diffPath(scanId, against, kind.format), `compare-${scanId}-${against}.${kind.extension}`);
    } catch (error) {
      setProblem(error);
    }
  }
  return html`<div class="downloads" role="group" aria-label="Download the comparison">
      <span>Download the comparison:</span>
      ${DOWNLOADS.map((d) => html`<button type="button" onClick=${() => save(d)}>${d.title}</button>`)}
    </div>
    <${ErrorNote} error=${problem} />`;
}

export function Compare({ scan, params }) {
  const against = (params.get("against") || "previous").trim() || "previous";
  const listed = (name, allowed, fallback) => {
    const raw = params.get(name);
    return raw === null ? fallback : raw.split(",").filter((v) => allowed.includes(v));
  };
  const changes = listed("show", CHANGES, DEFAULT_CHANGES);
  const severities = listed("severity", SEVERITIES, []);
  const completed = scan.status === "completed";
  const [{ data, error, loading }] = usePolling(
    (signal) => (completed ? getJson(diffPath(scan.scanId, against), { signal }) : null),
    [scan.scanId, against, completed],
  );
  // The answer for this scan and this other scan only (not the last page's, while it loads).
  const asked = against === "previous" ? "previous" : against.toUpperCase();
  const document = data && data.scanId === scan.scanId && data.against === asked ? data : null;
  const path = `/scans/${scan.scanId}/compare`;
  const go = (change) => {
    const next = { against, show: changes, severity: severities, ...change };
    navigate(
      path,
      {
        against: next.against === "previous" ? "" : next.against,
        // No change chosen is a choice ("none"), unlike no parameter (the default).
        show: next.show.length ? next.show.join(",") : "none",
        severity: next.severity.join(","),
      },
      true,
    );
  };
  if (!completed) {
    return html`<p class="muted">Only completed scans can be compared; this one is ${scan.status}.</p>`;
  }
  const picker = html`<${AgainstPicker} scan=${scan} against=${against} onPick=${(value) => go({ against: value })} />`;
  if (!document) {
    return html`<div class="filters">${picker}</div>
      ${error && !loading ? html`<${ErrorNote} error=${error} />` : html`<${Loading} what="Comparing" />`}`;
  }
  const baseline = document.baseline;
  return html`<div class="compare-head card">
      <div class="filters">${picker}</div>
      <p data-testid="compare-against">
        ${baseline
          ? html`From scan <a href=${"#/scans/" + encodeURIComponent(baseline.scanId)}><code>${baseline.scanId}</code></a>${" "}
              (completed ${dateTime(baseline.completedAt)}) to this scan (completed ${dateTime(document.scan.completedAt)}).`
          : "This is the target's first completed scan: every finding is new."}
      </p>
      <${Downloads} scanId=${scan.scanId} against=${against} />
    </div>
    <${FindingsDelta} document=${document} changes=${changes} severities=${severities} onFilter=${go} />
    <${Facts} document=${document} />`;
}
