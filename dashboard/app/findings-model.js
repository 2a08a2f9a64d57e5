// Findings as the pages show them: where each one is, and the filter the user chose.
import { severityRank } from "./format.js";

export function where(finding) {
  const at = finding.location || {};
  if (at.file) return at.line ? `${at.file}:${at.line}` : at.file;
  return at.resourceId || at.resource || at.target || at.package || at.name || "";
}

export function controls(finding) {
  return Object.entries(finding.frameworks || {}).flatMap(([name, ids]) => ids.map((id) => `${name} ${id}`));
}

export function filterFindings(findings, severities, text) {
  const needle = text.trim().toLowerCase();
  return findings
    .filter((f) => !severities.length || severities.includes(f.severity))
    .filter(
      (f) =>
        !needle ||
        [f.ruleId, f.title, f.message, where(f), f.family || "", f.itemId].some((v) =>
          String(v).toLowerCase().includes(needle),
        ),
    )
    .sort((a, b) => severityRank(a.severity) - severityRank(b.severity) || a.ruleId.localeCompare(b.ruleId));
}
