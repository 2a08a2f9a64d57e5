// Who the dashboard acts for, in one place. Today: an API key typed once and kept in this
// tab's sessionStorage (never in a URL, never in localStorage). Other ways to sign in (an
// identity provider's token) replace `credentials()` and `headers()`; the rest of the
// dashboard only calls these functions.

const STORAGE_KEY = "scan-dashboard.api-key";
const listeners = new Set();
let reason = "";

function notify() {
  for (const listener of listeners) listener();
}

export function signedIn() {
  return Boolean(sessionStorage.getItem(STORAGE_KEY));
}

export function signIn(apiKey) {
  sessionStorage.setItem(STORAGE_KEY, apiKey.trim());
  reason = "";
  notify();
}

// Forget the credentials; `why` is shown on the sign-in form.
export function signOut(why = "") {
  sessionStorage.removeItem(STORAGE_KEY);
  reason = why;
  notify();
}

export function signOutReason() {
  return reason;
}

export function headers() {
  const key = sessionStorage.getItem(STORAGE_KEY);
  return key ? { "X-API-Key": key } : {};
}

export function onAuthChange(listener) {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
