// What the dashboard knows about each kind of target: its form fields and how to scan one.
import { send } from "./api.js";

const ID_PATTERN = "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$";
const GUID_PATTERN = "^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$";
// Azure's rule for management group ids: up to 90 of letters, digits, - _ ( ) ., no final period.
const MANAGEMENT_GROUP_PATTERN = "^[A-Za-z0-9_().-]{0,89}[A-Za-z0-9_()-]$";
const MAX_SUBSCRIPTION_IDS = 100;
// Fields of which a target names exactly one (what a subscription target covers).
const ONE_OF = { subscriptions: ["subscriptionId", "subscriptionIds", "managementGroupId"] };
const SCHEDULE = {
  name: "schedule",
  label: "Schedule (cron, UTC)",
  hint: "Empty: no schedule. 5 fields (minute hour day month weekday), e.g. 0 2 * * *, or 6 with seconds first.",
};

export const FIELDS = {
  repositories: [
    { name: "name", label: "Name", required: true },
    { name: "id", label: "Id", fixed: true, pattern: ID_PATTERN, hint: "Letters, digits, dot, dash, underscore. Empty: made from the name." },
    { name: "url", label: "Clone URL", required: true, hint: "https://…, ssh://… or, where the service allows it, a local path." },
    { name: "defaultBranch", label: "Default branch", placeholder: "main" },
    { name: "credentialsRef", label: "Credentials reference", hint: "Name of an app setting or Key Vault secret holding a token. Never the token itself." },
    SCHEDULE,
  ],
  hosts: [
    { name: "hostname", label: "Host name or IP address", required: true, fixed: true },
    { name: "port", label: "SSH port", type: "number", fixed: true, placeholder: "22" },
    { name: "username", label: "User name", hint: "Empty: the service's default SSH user." },
    { name: "scanType", label: "Scan type", options: ["quick", "full"] },
    { name: "name", label: "Display name" },
    SCHEDULE,
  ],
  subscriptions: [
    { name: "subscriptionId", label: "Subscription id", fixed: true, pattern: GUID_PATTERN, hint: "One subscription (a GUID); or fill one of the next two instead." },
    {
      name: "subscriptionIds",
      label: "Subscription ids",
      list: true,
      fixed: true,
      itemPattern: GUID_PATTERN,
      hint: `Several subscriptions scanned as one target: GUIDs separated by commas (at most ${MAX_SUBSCRIPTION_IDS}).`,
    },
    {
      name: "managementGroupId",
      label: "Management group id",
      fixed: true,
      pattern: MANAGEMENT_GROUP_PATTERN,
      hint: "Every subscription under this management group, found again at each scan.",
    },
    { name: "name", label: "Display name" },
    { name: "rules", label: "Rules", list: true, hint: "Rule ids separated by commas. Empty: every rule." },
    SCHEDULE,
  ],
};

// A message for what the browser can check before the service does; null when it looks fine.
export function fieldProblem(field, value) {
  const text = String(value ?? "").trim();
  if (!text) return field.required ? `${field.label} is required.` : null;
  if (field.pattern && !new RegExp(field.pattern).test(text)) return `${field.label} is not valid. ${field.hint || ""}`.trim();
  if (field.itemPattern) {
    const items = text.split(/[\s,]+/).filter(Boolean);
    const wrong = items.find((item) => !new RegExp(field.itemPattern).test(item));
    if (wrong) return `${field.label}: ${wrong} is not valid. ${field.hint || ""}`.trim();
    if (items.length > MAX_SUBSCRIPTION_IDS) return `${field.label}: at most ${MAX_SUBSCRIPTION_IDS}, not ${items.length}.`;
  }
  if (field.type === "number" && !(Number(text) >= 1 && Number(text) <= 65535)) return `${field.label} must be between 1 and 65535.`;
  if (field.name === "schedule") {
    const parts = text.split(/\s+/);
    if (parts.length !== 5 && parts.length !== 6) {
      return `A schedule has 5 fields (minute hour day month weekday) or 6 (seconds first); this one has ${parts.length}.`;
    }
  }
  return null;
}

// Problems of the form as a whole, by the field to show them at: of the fields a kind names
// exactly one of, none or several filled.
export function formProblems(plural, values) {
  const fields = ONE_OF[plural];
  if (!fields) return {};
  const filled = fields.filter((name) => String(values[name] ?? "").trim());
  if (filled.length === 1) return {};
  const message = "Fill exactly one of: subscription id, subscription ids, management group id.";
  return { [filled[1] || fields[0]]: message };
}

// What a subscription target covers, as a scan request names it.
export function subscriptionScope(target) {
  if (target.managementGroupId) return { managementGroupId: target.managementGroupId };
  if (target.subscriptionIds && target.subscriptionIds.length) return { subscriptionIds: target.subscriptionIds };
  return { subscriptionId: target.subscriptionId || target.id };
}

export function scanTarget(kindName, target) {
  if (kindName === "repository") return send("POST", `/api/v1/repositories/${encodeURIComponent(target.id)}/scan`, {});
  if (kindName === "host") {
    return send("POST", "/api/v1/scans", {
      targetType: "host",
      hostname: target.hostname,
      port: target.port,
      ...(target.username ? { username: target.username } : {}),
      scanType: target.scanType || "quick",
    });
  }
  return send("POST", "/api/v1/scans", {
    targetType: "subscription",
    ...subscriptionScope(target),
    ...(target.rules && target.rules.length ? { rules: target.rules } : {}),
  });
}
