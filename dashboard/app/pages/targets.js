// Targets of one kind: last status, last scan, schedule; register, edit, delete, scan now.
import { useState } from "../../vendor/preact-hooks.mjs";
import { html } from "../html.js";
import { getJson, send } from "../api.js";
import { navigate } from "../router.js";
import { usePolling } from "../polling.js";
import { scanTarget } from "../targets.js";
import { Empty, ErrorNote, Loading, StatusBadge, Tabs, When } from "../components.js";
import { KINDS, kindByPlural } from "../format.js";

function Row({ kind, target, onChanged, onError }) {
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);

  async function scanNow() {
    setBusy(true);
    try {
      const accepted = await scanTarget(kind.name, target);
      navigate("/scans/" + accepted.scanId);
    } catch (error) {
      const active = error.extra && error.extra.activeScanId;
      onError(error, active);
      setBusy(false);
    }
  }

  async function remove() {
    setBusy(true);
    try {
      await send("DELETE", `/api/v1/${kind.plural}/${encodeURIComponent(target.id)}`);
      onChanged();
    } catch (error) {
      onError(error);
      setBusy(false);
    }
  }

  const name = target.name || target.id;
  return html`<tr>
    <th scope="row"><span class="cell-title">${name}</span>${name !== target.id ? html`<small class="muted block">${target.id}</small>` : null}</th>
    <td data-label="Last status">${target.lastStatus ? html`<${StatusBadge} status=${target.lastStatus} />` : html`<span class="muted">not scanned</span>`}</td>
    <td data-label="Last scanned">${target.lastScanId ? html`<a href=${"#/scans/" + target.lastScanId}><${When} iso=${target.lastScannedAt} /></a>` : html`<${When} iso=${target.lastScannedAt} />`}</td>
    <td data-label="Schedule"><code>${target.schedule || "—"}</code></td>
    <td class="actions">
      <button type="button" class="primary" disabled=${busy} onClick=${scanNow} aria-label=${"Scan now: " + name}>Scan now</button>
      <a class="button" href=${`#/targets/${kind.plural}/${encodeURIComponent(target.id)}/edit`} aria-label=${"Edit " + name}>Edit</a>
      ${confirming
        ? html`<button type="button" class="danger" disabled=${busy} onClick=${remove}>Delete ${name}</button>
            <button type="button" onClick=${() => setConfirming(false)}>Keep</button>`
        : html`<button type="button" onClick=${() => setConfirming(true)} aria-label=${"Delete " + name}>Delete</button>`}
    </td>
  </tr>`;
}

export function Targets({ plural }) {
  const kind = kindByPlural(plural) || KINDS[0];
  const [problem, setProblem] = useState(null);
  const [{ data, error, loading }, reload] = usePolling(
    (signal) => getJson(`/api/v1/${kind.plural}?limit=200`, { signal }),
    [kind.plural],
  );
  const tabs = KINDS.map((k) => ({ id: k.plural, href: "#/targets/" + k.plural, title: k.title }));
  const onError = (err, activeScanId) => setProblem({ error: err, activeScanId });
  return html`<div class="page-head">
      <h1>Targets</h1>
      <a class="button primary" href=${`#/targets/${kind.plural}/new`}>Register a ${kind.name}</a>
    </div>
    <${Tabs} tabs=${tabs} current=${kind.plural} label="Kinds of target" />
    ${problem &&
    html`<div class="error-note" role="alert">
      ${problem.error.message}
      ${problem.activeScanId ? html` <a href=${"#/scans/" + problem.activeScanId}>Open the running scan</a>` : null}
    </div>`}
    <${ErrorNote} error=${error} />
    ${!data
      ? loading && html`<${Loading} />`
      : data.items.length === 0
        ? html`<${Empty}>No ${kind.plural} registered yet.<//>`
        : html`<div class="table-wrap"><table class="stack">
            <caption class="sr-only">${kind.title}</caption>
            <thead><tr><th scope="col">Name</th><th scope="col">Last status</th><th scope="col">Last scanned</th><th scope="col">Schedule</th><th scope="col">Actions</th></tr></thead>
            <tbody>${data.items.map((t) => html`<${Row} key=${t.id} kind=${kind} target=${t} onChanged=${reload} onError=${onError} />`)}</tbody>
          </table></div>`}`;
}
