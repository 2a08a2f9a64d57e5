// Hash routing: every view has a URL that can be shared and reloaded (#/scans/ID/findings?...).
import { useEffect, useState } from "../vendor/preact-hooks.mjs";

export function currentRoute() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, search = ""] = raw.split("?");
  const parts = path.split("/").filter(Boolean).map((p) => {
    try {
      return decodeURIComponent(p);
    } catch {
      return p;
    }
  });
  return { path, parts, params: new URLSearchParams(search) };
}

export function href(path, params = {}) {
  const entries = Object.entries(params).filter(([, v]) => v !== undefined && v !== null && v !== "");
  const search = entries.length ? "?" + new URLSearchParams(entries).toString() : "";
  return "#" + path + search;
}

// Change the URL; `replace` keeps the browser history short (filters typed letter by letter).
export function navigate(path, params = {}, replace = false) {
  const target = href(path, params);
  if (replace) {
    history.replaceState(null, "", target);
    window.dispatchEvent(new Event("hashchange"));
  } else {
    location.hash = target;
  }
}

export function useRoute() {
  const [route, setRoute] = useState(currentRoute);
  useEffect(() => {
    const changed = () => setRoute(currentRoute());
    window.addEventListener("hashchange", changed);
    return () => window.removeEventListener("hashchange", changed);
  }, []);
  return route;
}
