// config.json, read once while the page renders: where the API is (`apiBaseUrl`, when the
// dashboard is served from another origin, as by a Static Web App) and how people sign in
// (`entra`: the tenant's authority, the dashboard's client id and the API's scopes; without it,
// with an API key only). A missing or unreadable file means: same origin, API keys.
async function load() {
  try {
    const response = await fetch("config.json", { cache: "no-cache" });
    if (response.ok) return await response.json();
  } catch {
    // fall through: the defaults
  }
  return {};
}

export const config = load();
