// Polls `load` every `interval_ms` while the component is mounted; returns the
// latest value and the latest error (cleared by the next success).
import { useEffect, useState } from "preact/hooks";

export function usePoll<T>(load: () => Promise<T>, deps: unknown[], interval_ms = 1500) {
  // A value is kept with the deps it was loaded for: after the deps change (another DAG's page
  // in the same component) the old value is not shown, and a load of the old deps that ends
  // late cannot overwrite the new one.
  const key = JSON.stringify(deps);
  const [loaded, setLoaded] = useState<{ key: string; value: T } | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [tick, setTick] = useState(0);
  useEffect(() => {
    // Per effect, not per component: a load of the previous deps that ends after a change
    // must neither set a value nor start a second polling chain.
    let alive = true;
    let timer: number | undefined;
    const run = async () => {
      try {
        const v = await load();
        if (!alive) return;
        setLoaded({ key, value: v });
        setError(undefined);
      } catch (e) {
        if (alive) setError(String((e as Error).message ?? e));
      }
      if (alive) timer = window.setTimeout(run, interval_ms);
    };
    run();
    return () => {
      alive = false;
      window.clearTimeout(timer);
    };
  }, [...deps, tick]);
  const value = loaded && loaded.key === key ? loaded.value : undefined;
  return { value, error, refresh: () => setTick((t) => t + 1) };
}
