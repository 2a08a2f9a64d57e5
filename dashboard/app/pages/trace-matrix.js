// The trace matrix of a repository scan, a page of requirements at a time (10,000 artifacts
// stay quick): coloured by status and validation status, gaps highlighted, every artifact a
// link to its file and line at the scanned commit.
import { useMemo, useState } from "../../vendor/preact-hooks.mjs";
import { html } from "../html.js";
import { getJson } from "../api.js";
import { href, navigate } from "../router.js";
import { usePolling } from "../polling.js";
import { blockMatches, blockRows, buildMatrix, state } from "../trace-model.js";
import { Empty, ErrorNote, Loading, Pager } from "../components.js";
import { isActive } from "../format.js";

const PAGE = 25;

function sourceLink(trace, artifact) {
  if (trace.sourceUrlTemplate) {
    return {
      href: trace.sourceUrlTemplate.replace("{path}", artifact.file.split("/").map(encodeURIComponent).join("/")).replace(/\{line\}/g, String(artifact.line)),
      external: true,
    };
  }
  return { href: href(`/scans/${trace.scanId}/source`, { path: artifact.file, line: artifact.line }), external: false };
}

function Cell({ cell, trace }) {
  const span = cell.rowspan > 1 ? cell.rowspan : undefined;
  if (cell.empty) return html`<td class="none" rowspan=${span}>—</td>`;
  if (cell.gap) return html`<td class="gap" rowspan=${span}>${cell.gap}</td>`;
  const a = cell.artifact;
  const link = sourceLink(trace, a);
  const status = [a.status, a.validationStatus].filter(Boolean).join(" / ") || "no status";
  return html`<td class=${"cell-" + state(a)} rowspan=${span}>
    <a href=${link.href} target=${link.external ? "_blank" : undefined} rel=${link.external ? "noopener noreferrer" : undefined}
      title=${`${a.file}:${a.line} at ${trace.commitSha.slice(0, 12)}`}><b>${a.id}</b></a>
    ${" "}<span>${a.title}</span>
    <small class="block">${status}</small>
    ${a.findings > 0 && html`<small class="flag block">${a.findings} finding${a.findings === 1 ? "" : "s"}</small>`}
  </td>`;
}

export function TraceMatrix({ scan, params }) {
  const [page, setPage] = useState(0);
  const text = params.get("q") || "";
  const onlyGaps = params.get("gaps") === "1";
  const [draft, setDraft] = useState(text);
  // The artifact index exists once the scan has ended.
  const ended = !isActive(scan);
  const [{ data: trace, error, loading }] = usePolling(
    (signal) => (ended ? getJson(`/api/v1/scans/${encodeURIComponent(scan.scanId)}/trace`, { signal }) : null),
    [scan.scanId, ended],
  );
  const matrix = useMemo(() => (trace ? buildMatrix(trace.artifacts) : null), [trace]);
  if (isActive(scan)) return html`<p class="muted">The trace matrix appears when the scan ends.</p>`;
  if (!trace) return loading ? html`<${Loading} what="Loading the trace matrix" />` : html`<${ErrorNote} error=${error} />`;
  const needle = text.trim().toLowerCase();
  const blocks = matrix.blocks.filter((b) => (!onlyGaps || b.gaps > 0) && blockMatches(b, needle));
  const pages = Math.max(1, Math.ceil(blocks.length / PAGE));
  const current = Math.min(page, pages - 1);
  const path = `/scans/${scan.scanId}/trace`;
  const apply = (change) => {
    setPage(0);
    navigate(path, { q: text, gaps: onlyGaps ? "1" : "", ...change }, true);
  };
  return html`<p class="muted">
      ${trace.artifacts.length} artifacts at commit <code>${trace.commitSha.slice(0, 12)}</code> (${trace.ref})
      of ${trace.repository || trace.targetId}; ${matrix.blocks.length} requirements,
      ${" "}${matrix.blocks.filter((b) => b.gaps).length} with gaps.
    </p>
    <form class="filters" role="search" aria-label="Filter the trace matrix" onSubmit=${(e) => {
        e.preventDefault();
        apply({ q: draft });
      }}>
      <div class="field grow">
        <label for="trace-search">Find an artifact</label>
        <input id="trace-search" type="search" value=${draft} placeholder="id, title or file"
          onInput=${(e) => setDraft(e.currentTarget.value)} onChange=${(e) => apply({ q: e.currentTarget.value })} />
      </div>
      <label class="check"><input type="checkbox" checked=${onlyGaps} onChange=${() => apply({ gaps: onlyGaps ? "" : "1" })} /> Only requirements with gaps</label>
    </form>
    <p class="legend" aria-label="Colours">
      <span class="cell-ok">approved / validated</span> <span class="cell-progress">in progress</span>
      <span class="cell-draft">draft</span> <span class="cell-bad">rejected or no status</span> <span class="gap">gap</span>
    </p>
    ${blocks.length === 0
      ? html`<${Empty}>No requirement matches.<//>`
      : html`<div class="table-wrap"><table class="matrix" data-testid="trace-matrix">
          <thead><tr><th scope="col">Requirement</th><th scope="col">User story</th><th scope="col">Specification</th><th scope="col">Test case</th></tr></thead>
          ${blocks.slice(current * PAGE, current * PAGE + PAGE).map(
            (block) => html`<tbody key=${block.req.id}>
              ${blockRows(block).map((row) => html`<tr>${row.map((cell) => html`<${Cell} cell=${cell} trace=${trace} />`)}</tr>`)}
            </tbody>`,
          )}
        </table></div>
        <${Pager} page=${current} pages=${pages} onPage=${setPage} label="Pages of requirements" />`}
    ${matrix.untraced.length > 0 &&
    html`<h2>Not traced to a requirement (${matrix.untraced.length})</h2>
      <ul class="plain untraced">
        ${matrix.untraced.slice(0, 200).map((a) => {
          const link = sourceLink(trace, a);
          return html`<li class=${"cell-" + state(a)}><a href=${link.href} target=${link.external ? "_blank" : undefined}
            rel=${link.external ? "noopener noreferrer" : undefined}>${a.id || "(no id)"}</a> ${a.title}${" "}
            <small class="muted">${a.file}:${a.line}</small></li>`;
        })}
      </ul>`}`;
}
