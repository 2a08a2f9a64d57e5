// One document of a repository scan at the scanned commit, the cited line marked and in view.
import { useEffect } from "../../vendor/preact-hooks.mjs";
import { html } from "../html.js";
import { getJson, query } from "../api.js";
import { usePolling } from "../polling.js";
import { ErrorNote, Loading } from "../components.js";

export function SourceView({ scan, params }) {
  const path = params.get("path") || "";
  const line = Number(params.get("line")) || 0;
  const [{ data, error, loading }] = usePolling(
    (signal) => getJson(`/api/v1/scans/${encodeURIComponent(scan.scanId)}/source` + query({ path }), { signal }),
    [scan.scanId, path],
  );
  useEffect(() => {
    const marked = document.getElementById("cited-line");
    if (marked) marked.scrollIntoView({ block: "center" });
  }, [data, line]);
  if (!data) return loading ? html`<${Loading} what="Loading the document" />` : html`<${ErrorNote} error=${error} />`;
  const lines = data.text.split(/\r?\n/);
  return html`<p><a href=${`#/scans/${scan.scanId}/trace`}>Back to the trace matrix</a></p>
    <h2><code>${data.path}</code>${line ? `, line ${line}` : ""}</h2>
    <p class="muted">At commit <code>${data.commitSha}</code>.</p>
    <ol class="source" data-testid="source">
      ${lines.map(
        (text, n) => html`<li id=${n + 1 === line ? "cited-line" : undefined} class=${n + 1 === line ? "cited" : undefined}
          aria-current=${n + 1 === line ? "true" : undefined}><code>${text || " "}</code></li>`,
      )}
    </ol>`;
}
