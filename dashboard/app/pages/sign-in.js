import { useState } from "../../vendor/preact-hooks.mjs";
import { html } from "../html.js";
import { entraAvailable, signIn, signInWithEntra, signOutReason } from "../auth.js";

// Microsoft Entra ID first where the dashboard is set up for it (on Azure), and always an API
// key. Signing in with a key stores it; the first call the pages make tells whether the service
// takes it (a 401 brings this form back with the reason).
export function SignIn() {
  const [key, setKey] = useState("");
  const [problem, setProblem] = useState("");
  const [leaving, setLeaving] = useState(false);
  const reason = signOutReason();
  const entra = entraAvailable();

  function submit(event) {
    event.preventDefault();
    if (!key.trim()) {
      setProblem("Enter the API key the service was started with (SCAN_API_KEYS).");
      return;
    }
    signIn(key);
  }

  async function withEntra() {
    setLeaving(true);
    try {
      await signInWithEntra();
    } catch (error) {
      setLeaving(false);
      setProblem(`Could not start signing in with Microsoft Entra ID (${error.errorCode || error.message}).`);
    }
  }

  return html`<main id="main" class="page sign-in">
    <div class="sign-in-options">
      <h1 id="sign-in-title">Sign in</h1>
      ${(problem || reason) && html`<div class="error-note" role="alert">${problem || reason}</div>`}
      ${entra &&
      html`<section class="card" aria-labelledby="entra-title">
        <h2 id="entra-title">With your organisation's account</h2>
        <p>What you may do follows the roles your organisation gave you.</p>
        <button type="button" class="primary" disabled=${leaving} onClick=${withEntra}>
          Sign in with Microsoft Entra ID
        </button>
      </section>`}
      <form class="card" onSubmit=${submit} aria-labelledby=${entra ? "key-title" : "sign-in-title"} novalidate>
        ${entra && html`<h2 id="key-title">With a key</h2>`}
        <p>The key stays in this browser tab only, until you sign out or close the tab.</p>
        <label for="api-key">API key</label>
        <input id="api-key" type="password" autocomplete="current-password" value=${key}
          onInput=${(e) => setKey(e.currentTarget.value)} />
        <button type="submit" class=${entra ? "" : "primary"}>Sign in</button>
      </form>
    </div>
  </main>`;
}
