// Who the dashboard acts for, in one place. Two ways to sign in:
// - Microsoft Entra ID, when config.json names the tenant (`entra`, as on Azure): MSAL for the
//   browser (vendored from npm by `make setup`) signs the person in with a redirect to the
//   tenant and back through signed-in.html; each call carries a fresh access token for the API,
//   whose `roles` claim the service checks.
// - An API key typed once, kept in this tab's sessionStorage (never in a URL, never in
//   localStorage) and sent as X-API-Key: always offered (locally the only way).
// The rest of the dashboard only calls the functions exported here.
import { config } from "./config.js";

const STORAGE_KEY = "scan-dashboard.api-key";
const MSAL_SCRIPT = "vendor/msal-browser.min.js";
const listeners = new Set();
let reason = "";
let entra = null; // { app: PublicClientApplication, scopes } once MSAL is ready
let account = null; // the Entra ID account signed in, if any
let starting = true;

function notify() {
  for (const listener of listeners) listener();
}

// A classic script from our own origin (the CSP allows 'self'); MSAL is only loaded when
// config.json asks for Entra ID sign-in, so a dashboard without it never downloads it.
function loadScript(src) {
  return new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = src;
    script.onload = resolve;
    script.onerror = () => reject(new Error(`could not load ${src}`));
    document.head.append(script);
  });
}

async function startEntra(settings) {
  await loadScript(MSAL_SCRIPT);
  const authority = String(settings.authority || "").replace(/\/+$/, "");
  const app = new window.msal.PublicClientApplication({
    auth: {
      clientId: settings.clientId,
      authority,
      // A known authority: MSAL trusts its OpenID configuration without asking the public
      // cloud's instance discovery (a sovereign cloud, a closed network).
      knownAuthorities: [new URL(authority).host],
      redirectUri: new URL("signed-in.html", window.location.href).href,
    },
    cache: { cacheLocation: "sessionStorage" },
  });
  await app.initialize();
  entra = { app, scopes: settings.scopes || [] };
  try {
    const result = await app.handleRedirectPromise();
    if (result && result.account) app.setActiveAccount(result.account);
  } catch (error) {
    reason = `Signing in with Microsoft Entra ID did not work (${error.errorCode || error.message}).`;
  }
  account = app.getActiveAccount() || app.getAllAccounts()[0] || null;
}

async function start() {
  const settings = await config;
  if (settings.entra && settings.entra.clientId && settings.entra.authority) {
    try {
      await startEntra(settings.entra);
    } catch (error) {
      entra = null;
      reason = `Microsoft Entra ID sign-in is not available here (${error.message}).`;
    }
  }
  starting = false;
  notify();
}

// Resolves once the way of signing in is known (and a sign-in coming back from Entra ID is done).
export const ready = start();

export function authStarting() {
  return starting;
}

export function entraAvailable() {
  return entra !== null;
}

export function signedIn() {
  return account !== null || Boolean(sessionStorage.getItem(STORAGE_KEY));
}

// Who is signed in, for the page header: the person's name, or "API key".
export function signedInAs() {
  if (account) return account.name || account.username || "Signed in";
  return signedIn() ? "API key" : "";
}

export function signIn(apiKey) {
  sessionStorage.setItem(STORAGE_KEY, apiKey.trim());
  reason = "";
  notify();
}

// Leaves the page for the tenant's sign-in; it comes back through signed-in.html.
export async function signInWithEntra() {
  reason = "";
  await entra.app.loginRedirect({ scopes: entra.scopes });
}

// Forget the credentials in this tab (an Entra ID account's tokens too; the person stays signed
// in to Microsoft Entra ID itself); `why` is shown on the sign-in form.
export function signOut(why = "") {
  sessionStorage.removeItem(STORAGE_KEY);
  if (account && entra) entra.app.clearCache({ account }).catch(() => {});
  account = null;
  reason = why;
  notify();
}

// The service answered 401: the credentials are no longer good (or never were).
export function credentialRefused() {
  signOut(
    account
      ? "The service did not accept your Microsoft Entra ID sign-in. Sign in again."
      : "The service did not accept the API key. Sign in again.",
  );
}

export function signOutReason() {
  return reason;
}

// The headers that say who calls: a bearer token (MSAL renews it from its cache or with its
// refresh token) or the API key.
export async function headers() {
  if (account && entra) {
    try {
      const result = await entra.app.acquireTokenSilent({ scopes: entra.scopes, account });
      return { Authorization: `Bearer ${result.accessToken}` };
    } catch {
      signOut("Your Microsoft Entra ID sign-in has ended. Sign in again.");
      return {};
    }
  }
  const key = sessionStorage.getItem(STORAGE_KEY);
  return key ? { "X-API-Key": key } : {};
}

export function onAuthChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
