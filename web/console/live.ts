// Live data: the overview the backend pushes on /api/events (server-sent
// events) every sample, with a fallback poll when the stream is down.
import { useEffect, useState } from "preact/hooks";
import { get_json } from "@shared/api";

export interface component_state {
  name: string;
  plays: string;
  state: "green" | "amber" | "red" | string;
  reason: string;
  address: string;
  admin?: string;
  leader?: string; // the admin endpoint of the instance running this singleton (cdc, scheduler)
  ready?: boolean;
  lag?: number;
}

export interface pipeline_node {
  id: string;
  label: string;
  detail: string;
  state: string;
  count?: number | null;
  lag?: number | null;
}

export interface pipeline_edge {
  from: string;
  to: string;
  label: string;
  rate: number | null;
}

export interface overview {
  time: number;
  kafka: string;
  cluster: null | {
    id: string;
    controller: number;
    brokers: { id: number; host: string; port: number }[];
    topics: number;
    partitions: number;
    records: number;
  };
  cluster_error?: string;
  rates: { records_in: number | null; records_out: number | null; bytes_in: number | null; bytes_out: number | null };
  groups: number;
  components: component_state[];
  pipeline: { nodes: pipeline_node[]; edges: pipeline_edge[] };
}

type listener = (o: overview) => void;
const listeners = new Set<listener>();
let latest: overview | null = null;
let connected = false;
let started = false;

function publish(o: overview) {
  latest = o;
  listeners.forEach((l) => l(o));
}

function start() {
  if (started) return;
  started = true;
  const source = new EventSource("/api/events");
  source.addEventListener("overview", (event) => {
    connected = true;
    publish(JSON.parse((event as MessageEvent).data));
  });
  source.onerror = () => {
    connected = false;
  };
  // While the stream is down (the browser retries it), poll instead.
  setInterval(async () => {
    if (connected) return;
    try {
      publish(await get_json<overview>("/api/overview"));
    } catch {
      /* the banner shows the stale time */
    }
  }, 3000);
  get_json<overview>("/api/overview").then(publish, () => undefined);
}

export function use_overview(): overview | null {
  const [value, set_value] = useState<overview | null>(latest);
  useEffect(() => {
    start();
    const l: listener = (o) => set_value(o);
    listeners.add(l);
    return () => void listeners.delete(l);
  }, []);
  return value;
}

// GETs `url` (again every `refresh_ms` when > 0, for live pages).
export function use_json<T>(url: string | null, refresh_ms = 0): { data: T | null; error: string | null; reload: () => void } {
  // The data is kept with the URL it came from: another topic's page in the same component shows
  // nothing until its own answer arrives, never the previous one's under the new name.
  const [loaded, set_loaded] = useState<{ url: string; data: T } | null>(null);
  const [error, set_error] = useState<string | null>(null);
  const [tick, set_tick] = useState(0);
  useEffect(() => {
    if (url === null) return;
    let live = true;
    get_json<T>(url).then(
      (d) => live && (set_loaded({ url, data: d }), set_error(null)),
      (e) => live && set_error(String(e.message ?? e)),
    );
    return () => {
      live = false;
    };
  }, [url, tick]);
  useEffect(() => {
    if (!refresh_ms || url === null) return;
    const timer = setInterval(() => set_tick((t) => t + 1), refresh_ms);
    return () => clearInterval(timer);
  }, [url, refresh_ms]);
  const data = loaded !== null && loaded.url === url ? loaded.data : null;
  return { data, error, reload: () => set_tick((t) => t + 1) };
}
