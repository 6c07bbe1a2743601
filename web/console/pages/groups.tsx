import { useState } from "preact/hooks";
import { send_json } from "@shared/api";
import { StateBadge } from "@shared/shell";
import { format_count } from "@shared/format";
import { TimeChart } from "../chart";
import { use_json } from "../live";
import { Confirm, ErrorBanner, rate } from "./common";

interface group_row {
  group_id: string;
  state: string;
  members?: number;
  lag?: number;
  topics?: string[];
  consume_rate?: number;
}

function group_state(state: string): string {
  return state === "Stable" ? "green" : state === "Empty" ? "none" : state === "Dead" ? "red" : "amber";
}

export function GroupsPage() {
  const { data, error, reload } = use_json<{ groups: group_row[] }>("/api/groups", 2000);
  return (
    <>
      <ErrorBanner error={error} />
      <section class="card">
        <div class="row">
          <h2 style="margin:0">Consumer groups</h2>
          <span class="spacer" />
          <button class="button" onClick={reload}>
            Refresh
          </button>
        </div>
        <table class="table" data-testid="groups">
          <thead>
            <tr>
              <th>group</th>
              <th>state</th>
              <th class="num">members</th>
              <th>topics</th>
              <th class="num">lag</th>
              <th class="num">consumed</th>
            </tr>
          </thead>
          <tbody>
            {(data?.groups ?? []).map((g) => (
              <tr key={g.group_id} data-testid={`group-${g.group_id}`}>
                <td>
                  <a href={`#/groups/${encodeURIComponent(g.group_id)}`}>{g.group_id}</a>
                </td>
                <td>
                  <span class={`badge state-${group_state(g.state)}`}>{g.state}</span>
                </td>
                <td class="num">{g.members ?? "–"}</td>
                <td>{(g.topics ?? []).join(", ")}</td>
                <td class="num" data-testid="group-lag">
                  {g.lag ?? "–"}
                </td>
                <td class="num">{rate(g.consume_rate)}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {data && data.groups.length === 0 && <p class="muted">No consumer groups.</p>}
      </section>
    </>
  );
}

interface group_detail {
  group_id: string;
  state?: string;
  assignor?: string;
  lag: number | null;
  members?: { member_id: string; client_id: string; host: string; assignment: { topic: string; partition: number }[] }[];
  offsets: { topic: string; partition: number; committed: number | null; start_offset: number; end_offset: number; lag: number; member: string | null }[];
  lag_history: [number, number][];
}

export function GroupPage(props: { id: string }) {
  const { data, error, reload } = use_json<group_detail>(`/api/groups/${encodeURIComponent(props.id)}`, 2000);
  const [to, set_to] = useState("earliest");
  const [timestamp, set_timestamp] = useState("");
  const [confirm, set_confirm] = useState(false);
  const [message, set_message] = useState<string | null>(null);
  const [reset_error, set_reset_error] = useState<string | null>(null);
  const active = (data?.members?.length ?? 0) > 0;
  const reset = async () => {
    set_confirm(false);
    try {
      const body: Record<string, unknown> = { to };
      if (to === "timestamp") body.timestamp = timestamp;
      const r = await send_json<{ partitions: unknown[] }>("POST", `/api/groups/${encodeURIComponent(props.id)}/reset`, body);
      set_message(`Offsets of ${r.partitions.length} partition(s) reset to ${to}.`);
      set_reset_error(null);
      reload();
    } catch (err) {
      set_reset_error(String((err as Error).message));
    }
  };
  return (
    <>
      <h2>
        <a href="#/groups">Consumer groups</a> / {props.id}
      </h2>
      <ErrorBanner error={error ?? reset_error} />
      {message && <div class="ok-banner">{message}</div>}
      {data && (
        <>
          <section class="card">
            <div class="row">
              <StateBadge state={group_state(data.state ?? "")} /> <b>{data.state}</b>
              <span class="muted">assignor {data.assignor || "–"}</span>
              <span class="spacer" />
              <span class="stat" data-testid="total-lag">
                lag {data.lag === null ? "–" : format_count(data.lag)}
              </span>
            </div>
            <TimeChart testid="lag-chart" series={[{ label: "lag", color: "#cf222e", points: data.lag_history }]} />
          </section>
          <section class="card">
            <h2>Members</h2>
            {(data.members ?? []).length === 0 ? (
              <p class="muted">No active members.</p>
            ) : (
              <table class="table">
                <thead>
                  <tr>
                    <th>client</th>
                    <th>host</th>
                    <th>assignment</th>
                  </tr>
                </thead>
                <tbody>
                  {data.members!.map((m) => (
                    <tr key={m.member_id}>
                      <td title={m.member_id}>{m.client_id}</td>
                      <td>{m.host}</td>
                      <td>
                        {m.assignment.map((a) => (
                          <span class="pill" key={`${a.topic}-${a.partition}`}>
                            {a.topic}-{a.partition}
                          </span>
                        ))}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            )}
          </section>
          <section class="card">
            <h2>Offsets</h2>
            <table class="table" data-testid="group-offsets">
              <thead>
                <tr>
                  <th>topic</th>
                  <th class="num">partition</th>
                  <th class="num">committed</th>
                  <th class="num">end offset</th>
                  <th class="num">lag</th>
                  <th>member</th>
                </tr>
              </thead>
              <tbody>
                {data.offsets.map((o) => (
                  <tr key={`${o.topic}-${o.partition}`}>
                    <td>
                      <a href={`#/topics/${encodeURIComponent(o.topic)}`}>{o.topic}</a>
                    </td>
                    <td class="num">{o.partition}</td>
                    <td class="num">{o.committed ?? "–"}</td>
                    <td class="num">{o.end_offset}</td>
                    <td class="num">{o.lag}</td>
                    <td>{o.member ?? "–"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </section>
          <section class="card">
            <h2>Reset offsets</h2>
            {active ? (
              <p class="muted">The group has active members; stop its consumers to reset its offsets.</p>
            ) : (
              <div class="row">
                <label>
                  to
                  <select value={to} onChange={(e) => set_to((e.target as HTMLSelectElement).value)} name="reset-to">
                    <option value="earliest">earliest</option>
                    <option value="latest">latest</option>
                    <option value="timestamp">timestamp</option>
                  </select>
                </label>
                {to === "timestamp" && (
                  <label>
                    time (ms or ISO-8601)
                    <input value={timestamp} onInput={(e) => set_timestamp((e.target as HTMLInputElement).value)} />
                  </label>
                )}
                <button class="button danger" onClick={() => set_confirm(true)} data-testid="reset-offsets">
                  Reset…
                </button>
              </div>
            )}
          </section>
          {confirm && (
            <Confirm title={`Reset offsets of ${props.id}?`} action="Reset" danger on_confirm={reset} on_cancel={() => set_confirm(false)}>
              <p>
                Every committed offset of the group moves to <b>{to}</b>
                {to === "timestamp" ? ` (${timestamp})` : ""}. Its consumers will read from there when they start.
              </p>
            </Confirm>
          )}
        </>
      )}
    </>
  );
}
