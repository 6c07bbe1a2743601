import { useState } from "preact/hooks";
import { send_json } from "@shared/api";
import { format_count, format_duration_ms } from "@shared/format";
import { use_json } from "../live";
import { Confirm, ErrorBanner, JsonCell, rate } from "./common";
import { ConfigEditor, ProduceForm } from "./operate";

interface topic_row {
  name: string;
  partitions: number;
  replication_factor: number;
  records: number;
  retention_ms?: string | null;
  cleanup_policy?: string | null;
  records_in_rate?: number;
  records_out_rate?: number;
  size_bytes?: number;
}

function retention(ms: string | null | undefined): string {
  if (ms === null || ms === undefined) return "–";
  const n = Number(ms);
  return n < 0 ? "forever" : format_duration_ms(n);
}

function CreateTopic(props: { on_created: (name: string) => void }) {
  const [name, set_name] = useState("");
  const [partitions, set_partitions] = useState("1");
  const [configs, set_configs] = useState("");
  const [error, set_error] = useState<string | null>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    const parsed: Record<string, string> = {};
    for (const line of configs.split("\n").map((l) => l.trim()).filter(Boolean)) {
      const eq = line.indexOf("=");
      if (eq < 1) return set_error(`config line '${line}' is not name=value`);
      parsed[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
    }
    try {
      await send_json("POST", "/api/topics", { name, partitions: Number(partitions), configs: parsed });
      set_error(null);
      props.on_created(name);
      set_name("");
    } catch (err) {
      set_error(String((err as Error).message));
    }
  };
  return (
    <form class="card" onSubmit={submit} data-testid="create-topic">
      <h2>Create a topic</h2>
      <ErrorBanner error={error} />
      <div class="row">
        <label>
          name
          <input value={name} required onInput={(e) => set_name((e.target as HTMLInputElement).value)} name="name" />
        </label>
        <label>
          partitions
          <input type="number" min="1" value={partitions} style="width:90px" onInput={(e) => set_partitions((e.target as HTMLInputElement).value)} name="partitions" />
        </label>
        <label style="flex:1">
          configs (name=value per line)
          <textarea rows={2} value={configs} placeholder="retention.ms=86400000" onInput={(e) => set_configs((e.target as HTMLTextAreaElement).value)} name="configs" />
        </label>
        <button class="button primary" type="submit">
          Create
        </button>
      </div>
    </form>
  );
}

export function TopicsPage() {
  const { data, error, reload } = use_json<{ topics: topic_row[] }>("/api/topics", 5000);
  const [created, set_created] = useState<string | null>(null);
  return (
    <>
      <CreateTopic
        on_created={(name) => {
          set_created(name);
          reload();
        }}
      />
      {created && <div class="ok-banner">Topic {created} created.</div>}
      <ErrorBanner error={error} />
      <section class="card">
        <div class="row">
          <h2 style="margin:0">Topics</h2>
          <span class="spacer" />
          <button class="button" onClick={reload}>
            Refresh
          </button>
        </div>
        <table class="table" data-testid="topics">
          <thead>
            <tr>
              <th>name</th>
              <th class="num">partitions</th>
              <th class="num">records</th>
              <th class="num">in</th>
              <th class="num">out</th>
              <th>retention</th>
              <th>cleanup</th>
              <th></th>
            </tr>
          </thead>
          <tbody>
            {(data?.topics ?? []).map((t) => (
              <tr key={t.name} data-testid={`topic-${t.name}`}>
                <td>
                  <a href={`#/topics/${encodeURIComponent(t.name)}`}>{t.name}</a>
                </td>
                <td class="num">{t.partitions}</td>
                <td class="num">{format_count(t.records)}</td>
                <td class="num">{rate(t.records_in_rate)}</td>
                <td class="num">{rate(t.records_out_rate)}</td>
                <td>{retention(t.retention_ms)}</td>
                <td>{t.cleanup_policy ?? "–"}</td>
                <td>
                  <a href={`#/messages/${encodeURIComponent(t.name)}`}>messages</a>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {data && data.topics.length === 0 && <p class="muted">No topics yet.</p>}
      </section>
    </>
  );
}

interface topic_detail {
  name: string;
  records: number;
  partitions: { partition: number; leader: number; replicas: number[]; isr: number[]; start_offset: number; end_offset: number; records: number }[];
  configs: { name: string; value: string | null; source: string; default: boolean; read_only: boolean }[];
  groups: { group: string; lag: number | null }[];
  stats?: { records_in_rate?: number; records_out_rate?: number };
}

export function TopicPage(props: { name: string }) {
  const { data, error, reload } = use_json<topic_detail>(`/api/topics/${encodeURIComponent(props.name)}`);
  const [confirm, set_confirm] = useState(false);
  const [delete_error, set_delete_error] = useState<string | null>(null);
  const remove = async () => {
    set_confirm(false);
    try {
      await send_json("DELETE", `/api/topics/${encodeURIComponent(props.name)}`);
      location.hash = "#/topics";
    } catch (err) {
      set_delete_error(String((err as Error).message));
    }
  };
  return (
    <>
      <div class="row">
        <h2>
          <a href="#/topics">Topics</a> / {props.name}
        </h2>
        <span class="spacer" />
        <a class="button" href={`#/messages/${encodeURIComponent(props.name)}`}>
          Browse messages
        </a>
        <button class="button danger" onClick={() => set_confirm(true)} data-testid="delete-topic">
          Delete topic
        </button>
      </div>
      <ErrorBanner error={error ?? delete_error} />
      {confirm && (
        <Confirm title={`Delete topic ${props.name}?`} word={props.name} action="Delete" danger on_confirm={remove} on_cancel={() => set_confirm(false)}>
          <p>All {data ? format_count(data.records) : ""} records of the topic are removed. This cannot be undone.</p>
        </Confirm>
      )}
      {data && (
        <>
          <section class="card">
            <h2>
              Partitions · {format_count(data.records)} records · in {rate(data.stats?.records_in_rate)} · out {rate(data.stats?.records_out_rate)}
            </h2>
            <table class="table" data-testid="partitions">
              <thead>
                <tr>
                  <th class="num">partition</th>
                  <th class="num">leader</th>
                  <th>replicas</th>
                  <th>in sync</th>
                  <th class="num">start offset</th>
                  <th class="num">end offset</th>
                  <th class="num">records</th>
                </tr>
              </thead>
              <tbody>
                {data.partitions.map((p) => (
                  <tr key={p.partition}>
                    <td class="num">
                      <a href={`#/messages/${encodeURIComponent(props.name)}?partition=${p.partition}`}>{p.partition}</a>
                    </td>
                    <td class="num">{p.leader}</td>
                    <td>{p.replicas.join(", ")}</td>
                    <td>{p.isr.join(", ")}</td>
                    <td class="num">{p.start_offset}</td>
                    <td class="num">{p.end_offset}</td>
                    <td class="num">{format_count(p.records)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
          <section class="card">
            <h2>Consumer groups</h2>
            {data.groups.length === 0 ? (
              <p class="muted">No group has committed offsets on this topic.</p>
            ) : (
              data.groups.map((g) => (
                <span class="pill" key={g.group}>
                  <a href={`#/groups/${encodeURIComponent(g.group)}`}>{g.group}</a> lag {g.lag ?? "–"}
                </span>
              ))
            )}
          </section>
          <ProduceForm topic={props.name} partitions={data.partitions.length} on_produced={reload} />
          <section class="card">
            <h2>Configs</h2>
            <ConfigEditor topic={props.name} configs={data.configs} on_changed={reload} />
            <table class="table" data-testid="configs">
              <thead>
                <tr>
                  <th>name</th>
                  <th>value</th>
                  <th>source</th>
                </tr>
              </thead>
              <tbody>
                {data.configs.map((c) => (
                  <tr key={c.name} data-testid={`config-${c.name}`}>
                    <td class="mono">{c.name}</td>
                    <td>{c.default ? <span class="muted">{c.value}</span> : <b><JsonCell value={c.value} /></b>}</td>
                    <td class="muted">{c.source}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
        </>
      )}
    </>
  );
}
