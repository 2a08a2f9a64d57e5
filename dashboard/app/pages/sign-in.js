import { useState } from "../../vendor/preact-hooks.mjs";
import { html } from "../html.js";
import { signIn, signOutReason } from "../auth.js";

// Signing in stores the key; the first call the pages make tells whether the service takes it
// (a 401 brings this form back with the reason).
export function SignIn() {
  const [key, setKey] = useState("");
  const [problem, setProblem] = useState("");
  const reason = signOutReason();

  function submit(event) {
    event.preventDefault();
    if (!key.trim()) {
      setProblem("Enter the API key the service was started with (SCAN_API_KEYS).");
      return;
    }
    signIn(key);
  }

  return html`<main id="main" class="page sign-in">
    <form class="card" onSubmit=${submit} aria-labelledby="sign-in-title" novalidate>
      <h1 id="sign-in-title">Sign in</h1>
      <p>The key stays in this browser tab only, until you sign out or close the tab.</p>
      ${(problem || reason) && html`<div class="error-note" role="alert">${problem || reason}</div>`}
      <label for="api-key">API key</label>
      <input id="api-key" type="password" autocomplete="current-password" value=${key}
        onInput=${(e) => setKey(e.currentTarget.value)} />
      <button type="submit" class="primary">Sign in</button>
    </form>
  </main>`;
}
