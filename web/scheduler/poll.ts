// Polls `load` every `interval_ms` while the component is mounted; returns the
// latest value and the latest error (cleared by the next success).
import { useEffect, useRef, useState } from "preact/hooks";

export function usePoll<T>(load: () => Promise<T>, deps: unknown[], interval_ms = 1500) {
  const [value, setValue] = useState<T | undefined>(undefined);
  const [error, setError] = useState<string | undefined>(undefined);
  const [tick, setTick] = useState(0);
  const alive = useRef(true);
  useEffect(() => {
    alive.current = true;
    let timer: number | undefined;
    const run = async () => {
      try {
        const v = await load();
        if (!alive.current) return;
        setValue(v);
        setError(undefined);
      } catch (e) {
        if (alive.current) setError(String((e as Error).message ?? e));
      }
      if (alive.current) timer = window.setTimeout(run, interval_ms);
    };
    run();
    return () => {
      alive.current = false;
      window.clearTimeout(timer);
    };
  }, [...deps, tick]);
  return { value, error, refresh: () => setTick((t) => t + 1) };
}
