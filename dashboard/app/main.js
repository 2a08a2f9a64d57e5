// The dashboard: sign-in gate, layout, and the route table (hash URLs, see router.js).
import { render } from "../vendor/preact.mjs";
import { useEffect, useState } from "../vendor/preact-hooks.mjs";
import { html } from "./html.js";
import { authStarting, onAuthChange, signedIn, signedInAs, signOut } from "./auth.js";
import { useRoute } from "./router.js";
import { SignIn } from "./pages/sign-in.js";
import { Overview } from "./pages/overview.js";
import { Targets } from "./pages/targets.js";
import { TargetForm } from "./pages/target-form.js";
import { Scans } from "./pages/scans.js";
import { ScanPage } from "./pages/scan.js";
import { ExceptionForm, Exceptions } from "./pages/exceptions.js";

const NAV = [
  { id: "overview", href: "#/", title: "Overview" },
  { id: "targets", href: "#/targets/repositories", title: "Targets" },
  { id: "scans", href: "#/scans", title: "Scans" },
  { id: "exceptions", href: "#/exceptions", title: "Exceptions" },
];

function page(route) {
  const [first, second, third] = route.parts;
  if (!first) return { id: "overview", title: "Overview", view: html`<${Overview} />` };
  if (first === "targets" && (third === "new" || (third && route.parts[3] === "edit"))) {
    return {
      id: "targets",
      title: third === "new" ? "Register a target" : "Edit a target",
      view: html`<${TargetForm} plural=${second} targetId=${third === "new" ? null : third} />`,
    };
  }
  if (first === "targets") {
    return { id: "targets", title: "Targets", view: html`<${Targets} plural=${second || "repositories"} />` };
  }
  if (first === "scans" && second) {
    return {
      id: "scans",
      title: "Scan " + second,
      view: html`<${ScanPage} scanId=${second} tab=${third || "summary"} params=${route.params} />`,
    };
  }
  if (first === "exceptions" && second === "new") {
    return { id: "exceptions", title: "Accept findings", view: html`<${ExceptionForm} params=${route.params} />` };
  }
  if (first === "exceptions") return { id: "exceptions", title: "Exceptions", view: html`<${Exceptions} />` };
  if (first === "scans") return { id: "scans", title: "Scans", view: html`<${Scans} params=${route.params} />` };
  return { id: "", title: "Not found", view: html`<p>There is no page at this address. <a href="#/">Overview</a></p>` };
}

function Layout() {
  const route = useRoute();
  const current = page(route);
  useEffect(() => {
    document.title = `${current.title} · Scans`;
  }, [current.title]);
  return html`<a class="skip" href="#main" onClick=${(e) => {
      e.preventDefault();
      document.getElementById("main").focus();
    }}>Skip to content</a>
    <header class="top">
      <span class="brand">Scans</span>
      <nav aria-label="Main">
        ${NAV.map(
          (item) =>
            html`<a href=${item.href} aria-current=${item.id === current.id ? "page" : undefined}>${item.title}</a>`,
        )}
      </nav>
      <span class="signed-in-as">${signedInAs()}</span>
      <button type="button" class="link sign-out" onClick=${() => signOut("")}>Sign out</button>
    </header>
    <main id="main" class="page" tabindex="-1">${current.view}</main>`;
}

function App() {
  const state = () => (authStarting() ? "starting" : signedIn() ? "in" : "out");
  const [auth, setAuth] = useState(state());
  useEffect(() => {
    const stop = onAuthChange(() => setAuth(state()));
    setAuth(state()); // whatever changed before this effect subscribed
    return stop;
  }, []);
  if (auth === "starting") return html`<main id="main" class="page"><p class="muted">Signing in…</p></main>`;
  return auth === "in" ? html`<${Layout} />` : html`<${SignIn} />`;
}

const root = document.getElementById("root");
root.textContent = "";
render(html`<${App} />`, root);
