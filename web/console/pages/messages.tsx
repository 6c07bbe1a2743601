import { useEffect, useRef, useState } from "preact/hooks";
import { get_json } from "@shared/api";
import { format_time } from "@shared/format";
import { use_json } from "../live";
import { ErrorBanner, JsonCell } from "./common";
import { ReplayDialog } from "./operate";

interface payload {
  format: string;
  size: number;
  value: unknown;
  schema_id?: number;
  error?: string;
}

interface record_row {
  partition: number;
  offset: number;
  timestamp: number;
  timestamp_type: string;
  key: payload;
  value: payload;
  headers: { key: string; value: string | null; encoding?: string }[];
}

interface browse_result {
  topic: string;
  records: record_row[];
  scanned: number;
  truncated: boolean;
  error?: string;
  partitions: { partition: number; start_offset: number; end_offset: number }[];
}

function PayloadCell(props: { p: payload }) {
  const { p } = props;
  return (
    <div>
      <JsonCell value={p.value} format={p.format} />
      <span class="pill">{p.format}{p.schema_id !== undefined ? ` #${p.schema_id}` : ""}</span>
      {p.error && <span class="muted" title={p.error}>⚠</span>}
    </div>
  );
}

export function MessagesPage(props: { topic: string }) {
  const [topic_part, query_part] = props.topic.split("?");
  const initial = new URLSearchParams(query_part ?? "");
  const topics = use_json<{ topics: { name: string; partitions: number }[] }>("/api/topics");
  const [topic, set_topic] = useState(topic_part);
  const [from, set_from] = useState("latest");
  const [position, set_position] = useState("");
  const [partition, set_partition] = useState(initial.get("partition") ?? "");
  const [limit, set_limit] = useState("50");
  const [q, set_q] = useState("");
  const [jsonpath, set_jsonpath] = useState("");
  const [result, set_result] = useState<browse_result | null>(null);
  const [records, set_records] = useState<record_row[]>([]);
  const [error, set_error] = useState<string | null>(null);
  const [loading, set_loading] = useState(false);
  const [tail, set_tail] = useState(false);
  const [replaying, set_replaying] = useState<{ topic: string; partition: number; offset: number } | null>(null);
  const tail_source = useRef<EventSource | null>(null);

  useEffect(() => set_topic(topic_part), [topic_part]);

  const params = () => {
    const p = new URLSearchParams({ from, limit });
    if (from === "offset") p.set("offset", position);
    if (from === "timestamp") p.set("timestamp", position);
    if (partition !== "") p.set("partition", partition);
    if (q) p.set("q", q);
    if (jsonpath) p.set("jsonpath", jsonpath);
    return p;
  };

  const load = async () => {
    if (!topic) return;
    set_loading(true);
    try {
      const r = await get_json<browse_result>(`/api/topics/${encodeURIComponent(topic)}/messages?${params()}`);
      set_result(r);
      set_records(r.records);
      set_error(r.error ?? null);
    } catch (err) {
      set_error(String((err as Error).message));
      set_records([]);
      set_result(null);
    }
    set_loading(false);
  };

  useEffect(() => {
    if (topic) load();
  }, [topic]);

  useEffect(() => {
    tail_source.current?.close();
    tail_source.current = null;
    if (!tail || !topic) return;
    const p = new URLSearchParams();
    if (partition !== "") p.set("partition", partition);
    if (q) p.set("q", q);
    if (jsonpath) p.set("jsonpath", jsonpath);
    const source = new EventSource(`/api/tail/${encodeURIComponent(topic)}?${p}`);
    source.addEventListener("record", (e) => {
      const row = JSON.parse((e as MessageEvent).data) as record_row;
      set_records((old) => [...old.slice(-(Number(limit) * 4)), row]);
    });
    source.addEventListener("error", (e) => {
      const data = (e as MessageEvent).data;
      if (data) set_error(JSON.parse(data).error);
    });
    tail_source.current = source;
    return () => source.close();
  }, [tail, topic, partition, q, jsonpath]);

  const export_json = () => {
    const blob = new Blob([JSON.stringify(records, null, 2)], { type: "application/json" });
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = `${topic}-records.json`;
    a.click();
    URL.revokeObjectURL(a.href);
  };

  return (
    <>
      <form
        class="card"
        onSubmit={(e) => {
          e.preventDefault();
          load();
        }}
        data-testid="browse-form"
      >
        <div class="row">
          <label>
            topic
            <select value={topic} onChange={(e) => (location.hash = `#/messages/${encodeURIComponent((e.target as HTMLSelectElement).value)}`)} name="topic">
              <option value="">choose…</option>
              {(topics.data?.topics ?? []).map((t) => (
                <option key={t.name} value={t.name}>
                  {t.name}
                </option>
              ))}
              {topic && !(topics.data?.topics ?? []).some((t) => t.name === topic) && <option value={topic}>{topic}</option>}
            </select>
          </label>
          <label>
            start at
            <select value={from} onChange={(e) => set_from((e.target as HTMLSelectElement).value)} name="from">
              <option value="latest">latest</option>
              <option value="earliest">earliest</option>
              <option value="offset">offset</option>
              <option value="timestamp">timestamp</option>
            </select>
          </label>
          {(from === "offset" || from === "timestamp") && (
            <label>
              {from === "offset" ? "offset" : "time (ms or ISO-8601)"}
              <input value={position} onInput={(e) => set_position((e.target as HTMLInputElement).value)} name="position" />
            </label>
          )}
          <label>
            partition
            <input value={partition} placeholder="all" style="width:70px" onInput={(e) => set_partition((e.target as HTMLInputElement).value)} name="partition" />
          </label>
          <label>
            limit
            <input type="number" min="1" max="1000" value={limit} style="width:80px" onInput={(e) => set_limit((e.target as HTMLInputElement).value)} name="limit" />
          </label>
          <label style="flex:1">
            text
            <input value={q} placeholder="contains…" onInput={(e) => set_q((e.target as HTMLInputElement).value)} name="q" />
          </label>
          <label style="flex:1">
            JSON path
            <input value={jsonpath} placeholder='$.gender == "female"' onInput={(e) => set_jsonpath((e.target as HTMLInputElement).value)} name="jsonpath" />
          </label>
          <button class="button primary" type="submit" disabled={!topic || loading}>
            {loading ? "Loading…" : "Load"}
          </button>
          <label class="row" style="flex-direction:row;align-items:center">
            <input type="checkbox" checked={tail} onChange={(e) => set_tail((e.target as HTMLInputElement).checked)} name="tail" /> live tail
          </label>
          <button class="button" type="button" onClick={export_json} disabled={records.length === 0}>
            Export JSON
          </button>
        </div>
      </form>
      <ErrorBanner error={error} />
      {result && (
        <p class="muted" data-testid="browse-summary">
          {records.length} record(s) shown · {result.scanned} read{result.truncated ? " (stopped at the scan limit: narrow the filter or start later)" : ""}
          {tail && (
            <span>
              {" "}
              · <span class="live-dot" />
              tailing
            </span>
          )}
        </p>
      )}
      <section class="card">
        <table class="table" data-testid="records">
          <thead>
            <tr>
              <th class="num">partition</th>
              <th class="num">offset</th>
              <th>timestamp</th>
              <th>key</th>
              <th>value</th>
              <th>headers</th>
              <th></th>
            </tr>
          </thead>
          <tbody>
            {records.map((r) => (
              <tr key={`${r.partition}-${r.offset}`} data-testid="record">
                <td class="num">{r.partition}</td>
                <td class="num">{r.offset}</td>
                <td title={r.timestamp_type}>{format_time(r.timestamp)}</td>
                <td>
                  <PayloadCell p={r.key} />
                </td>
                <td class="record-value">
                  <PayloadCell p={r.value} />
                </td>
                <td>
                  {r.headers.map((h) => (
                    <span class="pill" key={h.key}>
                      {h.key}={h.value ?? "null"}
                    </span>
                  ))}
                </td>
                <td>
                  <button class="button" onClick={() => set_replaying({ topic, partition: r.partition, offset: r.offset })} data-testid="replay">
                    Replay
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {records.length === 0 && <p class="muted">{topic ? "No records match." : "Choose a topic."}</p>}
      </section>
      {replaying && (
        <ReplayDialog source={replaying} topics={(topics.data?.topics ?? []).map((t) => t.name)} on_close={() => set_replaying(null)} />
      )}
    </>
  );
}
