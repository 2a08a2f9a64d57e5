// Small pure helpers: dates, durations, sizes, severities, statuses.

export const SEVERITIES = ["critical", "high", "medium", "low", "info"];
export const STATUSES = ["pending", "running", "completed", "failed", "cancelled"];
export const ACTIVE = new Set(["pending", "running"]);
export const KINDS = [
  { name: "repository", plural: "repositories", title: "Repositories" },
  { name: "host", plural: "hosts", title: "Hosts" },
  { name: "subscription", plural: "subscriptions", title: "Subscriptions" },
];

export function kindByPlural(plural) {
  return KINDS.find((k) => k.plural === plural);
}

export function isActive(scan) {
  return Boolean(scan) && ACTIVE.has(scan.status);
}

export function dateTime(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : date.toLocaleString();
}

export function ago(iso, now = Date.now()) {
  if (!iso) return "never";
  const seconds = Math.round((now - new Date(iso).getTime()) / 1000);
  if (!Number.isFinite(seconds)) return String(iso);
  if (seconds < 60) return "just now";
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86400)} d ago`;
}

export function duration(startIso, endIso) {
  if (!startIso) return "";
  const end = endIso ? new Date(endIso).getTime() : Date.now();
  const seconds = Math.max(0, (end - new Date(startIso).getTime()) / 1000);
  return seconds < 60 ? `${seconds.toFixed(1)} s` : `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
}

export function seconds(value) {
  if (value === null || value === undefined) return "unknown";
  const days = Math.floor(value / 86400);
  const hours = Math.floor((value % 86400) / 3600);
  const minutes = Math.floor((value % 3600) / 60);
  return days ? `${days} d ${hours} h` : hours ? `${hours} h ${minutes} min` : `${minutes} min`;
}

export function bytes(value) {
  if (value === null || value === undefined) return "unknown";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let size = value;
  let unit = 0;
  while (size >= 1024 && unit < units.length - 1) {
    size /= 1024;
    unit += 1;
  }
  return `${size.toFixed(unit ? 1 : 0)} ${units[unit]}`;
}

export function severityRank(severity) {
  const rank = SEVERITIES.indexOf(severity);
  return rank < 0 ? SEVERITIES.length : rank;
}

// Findings by severity from a finished scan's results, whatever its kind.
export function findingsBySeverity(scan) {
  const results = (scan && scan.results) || {};
  const counts =
    (results.findings && results.findings.bySeverity) ||
    results.findingsBySeverity ||
    (results.vulnerabilities && results.vulnerabilities.bySeverity) ||
    null;
  if (counts) return counts;
  const counters = (scan && scan.counters) || {};
  const fromCounters = {};
  for (const severity of SEVERITIES) {
    const value = counters["findings" + severity[0].toUpperCase() + severity.slice(1)];
    if (value) fromCounters[severity] = value;
  }
  return fromCounters;
}

export function findingsTotal(scan) {
  const counters = (scan && scan.counters) || {};
  if (typeof counters.findings === "number") return counters.findings;
  return Object.values(findingsBySeverity(scan)).reduce((a, b) => a + b, 0);
}

// "rulesCompleted" -> "Rules completed": counter names as people read them.
export function words(name) {
  const text = String(name).replace(/([a-z0-9])([A-Z])/g, "$1 $2").toLowerCase();
  return text.charAt(0).toUpperCase() + text.slice(1);
}
