// Load data, and keep loading it only while it is live: every 1.5 s while `isLive(data)`,
// stop when it is not, back off (up to 30 s) after errors, slow down in a hidden tab.
import { useCallback, useLayoutEffect, useRef, useState } from "../vendor/preact-hooks.mjs";

export const LIVE_INTERVAL_MS = 1500;
const MAX_BACKOFF_MS = 30_000;
const HIDDEN_INTERVAL_MS = 10_000;

export function usePolling(load, deps, isLive = () => false, idleMs = 0) {
  const [state, setState] = useState({ data: null, error: null, loading: true });
  const [generation, setGeneration] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  const liveRef = useRef(isLive);
  liveRef.current = isLive;

  // A layout effect: the first request leaves before the browser paints, not a frame later.
  useLayoutEffect(() => {
    let stopped = false;
    let timer = null;
    let failures = 0;
    const controller = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    const schedule = (ms) => {
      if (!stopped) timer = setTimeout(tick, document.hidden ? Math.max(ms, HIDDEN_INTERVAL_MS) : ms);
    };
    async function tick() {
      try {
        const data = await loadRef.current(controller.signal);
        if (stopped) return;
        failures = 0;
        setState({ data, error: null, loading: false });
        if (liveRef.current(data)) schedule(LIVE_INTERVAL_MS);
        else if (idleMs) schedule(idleMs);
      } catch (error) {
        if (stopped || error.name === "AbortError") return;
        failures += 1;
        setState((s) => ({ ...s, error, loading: false }));
        // Nothing to retry for: signed out, gone, or a request the service refuses.
        if (error.status === 401 || (error.status >= 400 && error.status < 500)) return;
        schedule(Math.min(MAX_BACKOFF_MS, LIVE_INTERVAL_MS * 2 ** failures));
      }
    }
    tick();
    return () => {
      stopped = true;
      clearTimeout(timer);
      controller.abort();
    };
  }, [...deps, generation]);

  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  return [state, reload];
}
