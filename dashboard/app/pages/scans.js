// Scans, newest first: filters by kind, target and status; pages follow the service's
// continuation token (the URL holds the filters and the token, so a page can be shared).
import { useState } from "../../vendor/preact-hooks.mjs";
import { html } from "../html.js";
import { getJson, query } from "../api.js";
import { navigate } from "../router.js";
import { usePolling } from "../polling.js";
import { Empty, ErrorNote, Loading, ProgressBar, StatusBadge, When } from "../components.js";
import { KINDS, STATUSES, duration, findingsTotal, isActive } from "../format.js";

const SIZES = [20, 50, 100];
// Tokens of the pages before this one, per filter, so "Previous" works without the service.
const earlier = new Map();

function filtersOf(params) {
  return {
    kind: params.get("kind") || "",
    target: params.get("target") || "",
    status: params.get("status") || "",
    limit: SIZES.includes(Number(params.get("limit"))) ? Number(params.get("limit")) : 50,
    token: params.get("token") || "",
  };
}

export function Scans({ params }) {
  const filters = filtersOf(params);
  const key = JSON.stringify([filters.kind, filters.target, filters.status, filters.limit]);
  const [draft, setDraft] = useState(filters.target);
  const [{ data, error, loading }] = usePolling(
    (signal) =>
      getJson(
        "/api/v1/scans" +
          query({
            targetType: filters.kind,
            targetId: filters.target,
            status: filters.status,
            limit: filters.limit,
            continuationToken: filters.token,
          }),
        { signal },
      ),
    [key, filters.token],
    (page) => page.items.some(isActive),
  );

  const go = (change) => {
    const next = { ...filters, ...change };
    if (!("token" in change)) next.token = "";
    navigate("/scans", next, true);
  };
  const stack = earlier.get(key) || [];
  const nextPage = () => {
    earlier.set(key, [...stack, filters.token]);
    go({ token: data.continuationToken });
  };
  const previousPage = () => {
    const before = stack.slice(0, -1);
    earlier.set(key, before);
    go({ token: stack[stack.length - 1] || "" });
  };

  return html`<h1>Scans</h1>
    <form class="filters" role="search" aria-label="Filter scans" onSubmit=${(e) => {
        e.preventDefault();
        go({ target: draft.trim() });
      }}>
      <div class="field">
        <label for="filter-kind">Kind</label>
        <select id="filter-kind" value=${filters.kind} onChange=${(e) => go({ kind: e.currentTarget.value })}>
          <option value="">All kinds</option>
          ${KINDS.map((k) => html`<option value=${k.name}>${k.name}</option>`)}
        </select>
      </div>
      <div class="field">
        <label for="filter-target">Target id</label>
        <input id="filter-target" value=${draft} onInput=${(e) => setDraft(e.currentTarget.value)}
          onChange=${(e) => go({ target: e.currentTarget.value.trim() })} placeholder="any target" />
      </div>
      <div class="field">
        <label for="filter-status">Status</label>
        <select id="filter-status" value=${filters.status} onChange=${(e) => go({ status: e.currentTarget.value })}>
          <option value="">Any status</option>
          ${STATUSES.map((s) => html`<option value=${s}>${s}</option>`)}
        </select>
      </div>
      <div class="field">
        <label for="filter-limit">Per page</label>
        <select id="filter-limit" value=${String(filters.limit)} onChange=${(e) => go({ limit: e.currentTarget.value })}>
          ${SIZES.map((n) => html`<option value=${String(n)}>${n}</option>`)}
        </select>
      </div>
    </form>
    <${ErrorNote} error=${error} />
    ${!data
      ? loading && html`<${Loading} />`
      : data.items.length === 0
        ? html`<${Empty}>No scans match.<//>`
        : html`<div class="table-wrap"><table class="scans stack">
            <thead><tr><th scope="col">Target</th><th scope="col">Status</th><th scope="col">Progress</th><th scope="col">Findings</th><th scope="col">Started</th><th scope="col">Took</th></tr></thead>
            <tbody>
              ${data.items.map(
                (s) => html`<tr key=${s.scanId}>
                  <th scope="row"><a href=${"#/scans/" + s.scanId}>${s.targetType}: ${s.targetId}</a>
                    <small class="block muted">${s.scanId}</small></th>
                  <td data-label="Status"><${StatusBadge} status=${s.status} /></td>
                  <td data-label="Progress">${isActive(s) ? html`<${ProgressBar} value=${s.progress} label=${"Progress of " + s.scanId} />` : s.progress + " %"}</td>
                  <td data-label="Findings" class="num">${s.status === "completed" ? findingsTotal(s) : ""}</td>
                  <td data-label="Started"><${When} iso=${s.startedAt || s.createdAt} /></td>
                  <td data-label="Took">${duration(s.startedAt, s.completedAt)}</td>
                </tr>`,
              )}
            </tbody>
          </table></div>`}
    <nav class="pager" aria-label="Pages of scans">
      <button type="button" disabled=${!filters.token} onClick=${previousPage}>Previous page</button>
      <button type="button" disabled=${!data || !data.continuationToken} onClick=${nextPage}>Next page</button>
    </nav>`;
}
