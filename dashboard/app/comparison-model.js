// The service's comparison of two scans (GET /api/v1/scans/{id}/diff) as the compare view shows
// it: the findings each change holds, and the facts of each kind of target as titled tables with
// one row per change. Pure functions; every cell is text (scanned text stays text).
import { bytes, severityRank, words } from "./format.js";
import { where } from "./findings-model.js";

export const CHANGES = ["new", "resolved", "unchanged"];

// Findings of the chosen changes and severities, each with its change.
export function comparedFindings(document, changes, severities) {
  const findings = (document && document.findings) || {};
  return CHANGES.filter((change) => changes.includes(change))
    .flatMap((change) => (findings[change] || []).map((finding) => ({ ...finding, change })))
    .filter((f) => !severities.length || severities.includes(f.severity))
    .sort(
      (a, b) =>
        CHANGES.indexOf(a.change) - CHANGES.indexOf(b.change) ||
        severityRank(a.severity) - severityRank(b.severity) ||
        a.ruleId.localeCompare(b.ruleId),
    );
}

export function findingRows(findings) {
  return findings.map((f) => [f.change, f.severity, f.ruleId, f.title, f.message, where(f), f.fingerprint]);
}
export const FINDING_COLUMNS = ["change", "severity", "rule_id", "title", "message", "location", "fingerprint"];

const text = (value) => (value === null || value === undefined ? "" : String(value));
const short = (sha) => text(sha).slice(0, 12);
const percent = (value) => (value === null || value === undefined ? "" : `${value} %`);
const setOrNot = (value) => (value === null || value === undefined ? "not set" : String(value));
// Field names as people read them: "validation_status" and "osVersion" -> "Validation status", "Os version".
const label = (name) => words(String(name).replace(/_/g, " "));

// One table per group of facts: `lists` name the group's lists of changes, each with the
// change it stands for and the tone of its badge (new/resolved: findings' colours; added,
// removed, changed: neutral); `cells` turns one entry into the table's cells.
function table(title, columns, lists) {
  return { title, columns, lists };
}
const list = (key, change, tone, cells) => ({ key, change, tone, cells });

const MEMORY = {
  totalBytes: ["Total", bytes],
  swapTotalBytes: ["Swap total", bytes],
  percent: ["Used", percent],
};

const HOST = {
  system: table("System", ["What", "Before", "Now"], [
    list(null, "changed", "changed", (c) => [label(c.field), text(c.from), text(c.to)]),
  ]),
  packages: table("Packages", ["Package", "Architecture", "Before", "Now"], [
    list("added", "added", "added", (p) => [p.name, text(p.arch), "", p.version]),
    list("removed", "removed", "removed", (p) => [p.name, text(p.arch), p.version, ""]),
    list("upgraded", "upgraded", "changed", (p) => [p.name, text(p.arch), p.from, p.to]),
    list("downgraded", "downgraded", "changed", (p) => [p.name, text(p.arch), p.from, p.to]),
    list("changed", "changed", "changed", (p) => [p.name, text(p.arch), p.from, p.to]),
  ]),
  vulnerabilities: table("Known vulnerabilities", ["Advisory", "Package", "Version"], [
    list("new", "new", "new", (v) => [v.id, v.package, text(v.version)]),
    list("resolved", "resolved", "resolved", (v) => [v.id, v.package, text(v.version)]),
  ]),
  processes: table("Top processes", ["Command", "User"], [
    list("new", "new", "added", (p) => [p.command, text(p.user)]),
    list("vanished", "vanished", "removed", (p) => [p.command, text(p.user)]),
  ]),
  interfaces: table("Network interfaces", ["Interface", "What", "Before", "Now"], [
    list("added", "added", "added", (name) => [name, "interface", "", "present"]),
    list("removed", "removed", "removed", (name) => [name, "interface", "present", ""]),
    list("addressesAdded", "address added", "added", (a) => [a.interface, "address", "", a.address]),
    list("addressesRemoved", "address removed", "removed", (a) => [a.interface, "address", a.address, ""]),
    list("changed", "changed", "changed", (c) => [c.interface, label(c.field), text(c.from), text(c.to)]),
  ]),
  disk: table("Disks", ["Mount", "Size", "Used before", "Used now"], [
    list("added", "added", "added", (mount) => [mount, "", "", "mounted"]),
    list("removed", "removed", "removed", (mount) => [mount, "", "mounted", ""]),
    list("changed", "changed", "changed", (d) => {
      const size = d.sizeBytes || {};
      const used = d.percent || {};
      const resized = size.from !== size.to ? `${bytes(size.from)} → ${bytes(size.to)}` : bytes(size.to);
      return [d.mount, resized, percent(used.from), percent(used.to)];
    }),
  ]),
  memory: table("Memory", ["What", "Before", "Now"], [
    list("changed", "changed", "changed", (c) => {
      const [name, as] = MEMORY[c.field] || [label(c.field), text];
      return [name, as(c.from), as(c.to)];
    }),
  ]),
};

const artifactCells = (a, changes = "") => [a.id, text(a.type), text(a.title), text(a.path), text(a.status), changes];

const REPOSITORY = {
  commits: table("Commits in between", ["Commit", "Author", "When", "Subject"], [
    list("items", "", "", (c) => [
      short(c.sha),
      text(c.author),
      c.time ? new Date(c.time * 1000).toLocaleString() : "",
      text(c.subject),
    ]),
  ]),
  artifacts: table("Artifacts", ["Artifact", "Type", "Title", "File", "Status", "What changed"], [
    list("added", "added", "added", (a) => artifactCells(a)),
    list("removed", "removed", "removed", (a) => artifactCells(a)),
    list("changed", "changed", "changed", (a) =>
      artifactCells(a, (a.changes || []).map((c) => `${label(c.field)}: ${setOrNot(c.from)} → ${setOrNot(c.to)}`)),
    ),
  ]),
  links: table("Links", ["From", "Link", "To"], [
    list("added", "added", "added", (l) => [l.from, text(l.kind), l.to]),
    list("removed", "removed", "removed", (l) => [l.from, text(l.kind), l.to]),
  ]),
};

const holder = (r) => r.userPrincipalName || r.displayName || r.principalId;

const SUBSCRIPTION = {
  resources: table("Resources", ["Name", "Type", "Location", "Resource id"], [
    list("added", "added", "added", (r) => [text(r.name), text(r.type), text(r.location), r.id]),
    list("removed", "removed", "removed", (r) => [text(r.name), text(r.type), text(r.location), r.id]),
  ]),
  findingsByRule: table("Findings by rule", ["Rule", "Title", "Severity", "New", "Resolved", "CIS controls"], [
    list(null, "", "", (r) => [r.ruleId, text(r.title), text(r.severity), text(r.new), text(r.resolved), (r.cis || []).join(", ")]),
  ]),
  findingsByCisControl: table("Findings by CIS control", ["Control", "New", "Resolved", "Rules"], [
    list(null, "", "", (c) => [`CIS ${c.control}`, text(c.new), text(c.resolved), (c.rules || []).join(", ")]),
  ]),
  privilegedRoles: table("Privileged role holders", ["Holder", "Role", "Scope", "Principal id"], [
    list("added", "added", "added", (r) => [holder(r), text(r.role), text(r.directoryScopeId), text(r.principalId)]),
    list("removed", "removed", "removed", (r) => [holder(r), text(r.role), text(r.directoryScopeId), text(r.principalId)]),
  ]),
};

const KINDS = { host: HOST, repository: REPOSITORY, subscription: SUBSCRIPTION };

function summaryOf(group, value) {
  const counts = value && value.counts;
  if (group === "packages" && counts) {
    const moved = ["added", "removed", "upgraded", "downgraded", "changed"].filter((k) => counts[k]);
    return `${counts.before} packages before, ${counts.after} now` + (moved.length ? ": " + moved.map((k) => `${counts[k]} ${k}`).join(", ") : "");
  }
  if ((group === "artifacts" || group === "resources") && counts) {
    const moved = ["added", "removed", "changed"].filter((k) => counts[k]);
    return `${counts.before} ${group} before, ${counts.after} now` + (moved.length ? ": " + moved.map((k) => `${counts[k]} ${k}`).join(", ") : "");
  }
  if (group === "commits" && value && !value.complete) return text(value.note) || "The commits in between are not known.";
  if (group === "commits" && value) return `${value.count} commit${value.count === 1 ? "" : "s"} since the earlier scan`;
  if (group === "resources" && value && (value.typesNotCompared || []).length) {
    return `Not compared (collected by one scan only): ${value.typesNotCompared.join(", ")}`;
  }
  return "";
}

// The groups of facts of a comparison, in the kind's order: each with its title, columns and
// rows ({change, tone, cells}); groups that were not compared carry `reason`, groups without
// a change have no rows. Facts of an unknown kind: none.
export function factGroups(document) {
  const facts = document && document.facts;
  const kind = KINDS[document && document.targetType];
  if (!facts || !kind) return [];
  const notCompared = facts.notCompared || {};
  return Object.entries(kind).map(([group, spec]) => {
    const value = facts[group];
    if (value === null || value === undefined) {
      return { group, title: spec.title, columns: spec.columns, rows: [], reason: notCompared[group] || "not compared" };
    }
    const rows = spec.lists.flatMap((l) => {
      const entries = l.key === null ? value : value[l.key];
      return (Array.isArray(entries) ? entries : []).map((entry) => ({ change: l.change, tone: l.tone, cells: l.cells(entry) }));
    });
    return { group, title: spec.title, columns: spec.columns, rows, summary: summaryOf(group, value), reason: null };
  });
}

// Host fields (os, kernel, ...) that could not be compared, beside the groups' own reasons.
export function notComparedFields(document) {
  const facts = (document && document.facts) || {};
  const groups = new Set(Object.keys(KINDS[document && document.targetType] || {}));
  return Object.entries(facts.notCompared || {}).filter(([name]) => !groups.has(name));
}

// The repository's commits before and after, when the comparison knows them.
export function commitChange(document) {
  const commit = document && document.facts && document.facts.commit;
  return commit ? { from: short(commit.from), to: short(commit.to), same: commit.from === commit.to } : null;
}
