// What a host scan found: OS, kernel, uptime, disks and memory, top processes, interfaces,
// packages and their known vulnerabilities. Missing parts say why (partial results).
import { html } from "../html.js";
import { Meter, Section } from "../components.js";
import { bytes, isActive, seconds } from "../format.js";

function Disks({ disks }) {
  if (!Array.isArray(disks) || !disks.length) return html`<p class="empty">No disk usage recorded.</p>`;
  return html`<div class="table-wrap"><table class="stack">
    <thead><tr><th scope="col">Mount</th><th scope="col">Type</th><th scope="col">Size</th><th scope="col">Used</th></tr></thead>
    <tbody>${disks.map(
      (d) => html`<tr>
        <th scope="row"><code>${d.mount}</code></th>
        <td data-label="Type">${d.type || d.filesystem}</td>
        <td data-label="Size" class="num">${bytes(d.sizeBytes)}</td>
        <td data-label="Used"><${Meter} percent=${d.percent} label=${"Disk used on " + d.mount} /></td>
      </tr>`,
    )}</tbody>
  </table></div>`;
}

function Memory({ memory }) {
  if (!memory) return html`<p class="empty">No memory figures recorded.</p>`;
  return html`<dl class="facts">
    <div><dt>Total</dt><dd>${bytes(memory.totalBytes)}</dd></div>
    <div><dt>Used</dt><dd><${Meter} percent=${memory.percent} label="Memory used" /> ${bytes(memory.usedBytes)}</dd></div>
    <div><dt>Available</dt><dd>${bytes(memory.availableBytes)}</dd></div>
    <div><dt>Swap used</dt><dd>${bytes(memory.swapUsedBytes)} of ${bytes(memory.swapTotalBytes)}</dd></div>
  </dl>`;
}

function Processes({ processes }) {
  if (!Array.isArray(processes)) return html`<p class="empty">Processes are listed by full scans.</p>`;
  return html`<div class="table-wrap"><table class="stack">
    <thead><tr><th scope="col">PID</th><th scope="col">User</th><th scope="col">Memory</th><th scope="col">CPU %</th><th scope="col">Command</th></tr></thead>
    <tbody>${processes.map(
      (p) => html`<tr>
        <td data-label="PID" class="num">${p.pid}</td><td data-label="User">${p.user}</td>
        <td data-label="Memory" class="num">${bytes(p.rssBytes)}</td>
        <td data-label="CPU %" class="num">${p.cpuPercent ?? ""}</td>
        <td class="command"><code>${p.command}</code></td>
      </tr>`,
    )}</tbody>
  </table></div>`;
}

function Interfaces({ network }) {
  if (!Array.isArray(network)) return html`<p class="empty">Interfaces are listed by full scans.</p>`;
  return html`<div class="table-wrap"><table class="stack">
    <thead><tr><th scope="col">Interface</th><th scope="col">State</th><th scope="col">MAC</th><th scope="col">Addresses</th></tr></thead>
    <tbody>${network.map(
      (n) => html`<tr>
        <th scope="row">${n.name}</th><td data-label="State">${n.state || ""}</td>
        <td data-label="MAC"><code>${n.mac || ""}</code></td>
        <td data-label="Addresses">${(n.addresses || []).map((a) => html`<code class="block">${a.address}${a.prefixLength != null ? "/" + a.prefixLength : ""}</code>`)}</td>
      </tr>`,
    )}</tbody>
  </table></div>`;
}

function Packages({ packages, vulnerabilities }) {
  if (!packages) return html`<p class="empty">Packages are listed by full scans.</p>`;
  if (!packages.manager) return html`<p class="empty">${packages.note || "No package manager found."}</p>`;
  const affected = (vulnerabilities && vulnerabilities.packages) || [];
  return html`<p>${packages.count} packages (${packages.manager || "unknown manager"}).
      ${vulnerabilities
        ? vulnerabilities.error
          ? html` Vulnerability look-up failed: ${vulnerabilities.error}.`
          : ` ${vulnerabilities.packagesAffected || 0} with known vulnerabilities (${vulnerabilities.vulnerabilities || 0} in all).`
        : ""}</p>
    ${affected.length > 0 &&
    html`<div class="table-wrap"><table>
      <thead><tr><th scope="col">Package</th><th scope="col">Version</th><th scope="col">CVEs</th><th scope="col">Advisories</th></tr></thead>
      <tbody>${affected.map(
        (p) => html`<tr><th scope="row">${p.name}</th><td><code>${p.version}</code></td>
          <td>${(p.cves || []).join(", ")}</td><td>${(p.ids || []).join(", ")}</td></tr>`,
      )}</tbody>
    </table></div>`}`;
}

export function HostFacts({ scan }) {
  const r = scan.results;
  if (!r) {
    return html`<p class="muted">${isActive(scan) ? "Facts appear when the scan ends." : "This scan recorded no facts."}</p>`;
  }
  const os = r.os || {};
  return html`<div class="grid">
      <${Section} title="System" id="system-title">
        <dl class="facts" data-testid="host-facts">
          <div><dt>Host name</dt><dd>${r.hostname || "unknown"}</dd></div>
          <div><dt>Operating system</dt><dd>${os.prettyName || os.name || "unknown"}</dd></div>
          <div><dt>Kernel</dt><dd>${[r.kernelName, r.kernel].filter(Boolean).join(" ") || "unknown"}</dd></div>
          <div><dt>Architecture</dt><dd>${r.architecture || "unknown"}</dd></div>
          <div><dt>Uptime</dt><dd>${seconds(r.uptimeSeconds)}</dd></div>
          <div><dt>Scan type</dt><dd>${r.scanType}</dd></div>
          ${Array.isArray(r.via) && r.via.length > 0 &&
          html`<div><dt>Through</dt><dd>${r.via.map((hop) => html`<code class="block">${hop}</code>`)}</dd></div>`}
        </dl>
      <//>
      <${Section} title="Memory" id="memory-title"><${Memory} memory=${r.memory} /><//>
    </div>
    ${Array.isArray(r.errors) && r.errors.length > 0 &&
    html`<div class="error-note" role="status">Partial results: ${r.errors.map((e) => `${e.command}: ${e.message}`).join("; ")}</div>`}
    <${Section} title="Disks" id="disks-title"><${Disks} disks=${r.disk} /><//>
    <${Section} title="Packages" id="packages-title"><${Packages} packages=${r.packages} vulnerabilities=${r.vulnerabilities} /><//>
    <${Section} title="Top processes by memory" id="processes-title"><${Processes} processes=${r.processes} /><//>
    <${Section} title="Network interfaces" id="network-title"><${Interfaces} network=${r.network} /><//>`;
}
