// Operating runs as in Airflow's UI: trigger with a config, clear a task (with
// its downstream), clear or mark a run, mark a task, bulk-clear failed tasks,
// backfill a date range (dry run first), a run's Gantt chart and the task
// durations across runs.
import { useState } from "preact/hooks";
import { send_json } from "@shared/api";
import { StateBadge } from "@shared/shell";
import { format_duration_ms, format_time } from "@shared/format";
import type { Dag, DagRun, Task, TaskInstance } from "./types";

const enc = encodeURIComponent;

interface changed {
  task_instances: { dag_run_id: string; task_id: string; state: string | null }[];
  total_entries: number;
}

function Message(props: { text: string; error?: boolean }) {
  if (!props.text) return null;
  return (
    <p class={props.error ? "error-line" : "muted"} data-testid="op-message">
      {props.text}
    </p>
  );
}

async function attempt(action: () => Promise<string>, set: (m: { text: string; error: boolean }) => void, done?: () => void) {
  try {
    set({ text: await action(), error: false });
    done?.();
  } catch (e) {
    set({ text: String((e as Error).message), error: true });
  }
}

// "Trigger with config": a JSON editor prefilled with the DAG's params.
export function TriggerWithConfig(props: { dag: Dag; onTriggered: (run_id: string) => void; onClose: () => void }) {
  const [text, setText] = useState(JSON.stringify(props.dag.params ?? {}, null, 2));
  const [note, setNote] = useState("");
  const [msg, setMsg] = useState({ text: "", error: false });
  const submit = () =>
    attempt(async () => {
      let conf: unknown;
      try {
        conf = JSON.parse(text);
      } catch (e) {
        throw new Error(`the config is not JSON: ${(e as Error).message}`);
      }
      const run = await send_json<{ dag_run_id: string }>("POST", `/api/v1/dags/${enc(props.dag.dag_id)}/dagRuns`, {
        conf,
        ...(note ? { note } : {}),
      });
      props.onTriggered(run.dag_run_id);
      return `triggered ${run.dag_run_id}`;
    }, setMsg);
  return (
    <div class="dialog-backdrop" onKeyDown={(e) => e.key === "Escape" && props.onClose()}>
      <div class="dialog" role="dialog" aria-modal="true" aria-label="Trigger with config" data-testid="trigger-dialog">
        <h3>Trigger {props.dag.dag_id} with config</h3>
        <p class="muted small">The run's conf: a JSON object of the DAG's params (declared params only, with their types).</p>
        <textarea class="json-editor" rows={10} value={text} onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
          name="conf" spellcheck={false} />
        <label class="block">
          note <input value={note} onInput={(e) => setNote((e.target as HTMLInputElement).value)} name="note" />
        </label>
        <Message {...msg} />
        <div class="actions">
          <button class="button" onClick={props.onClose}>Close</button>
          <button class="button primary" onClick={submit} data-testid="trigger-submit">▶ Trigger</button>
        </div>
      </div>
    </div>
  );
}

// Actions on one task instance (in the task panel).
export function TaskActions(props: { dag_id: string; run_id: string; task_id: string; onChanged: () => void }) {
  const [downstream, setDownstream] = useState(true);
  const [msg, setMsg] = useState({ text: "", error: false });
  const base = `/api/v1/dags/${enc(props.dag_id)}`;
  const clear = () =>
    attempt(async () => {
      const r = await send_json<changed>("POST", `${base}/clearTaskInstances`, {
        dry_run: false, dag_run_id: props.run_id, task_ids: [props.task_id], include_downstream: downstream,
      });
      return `cleared ${r.total_entries} task instance(s): ${r.task_instances.map((t) => t.task_id).join(", ") || "none (not run yet or still running)"}`;
    }, setMsg, props.onChanged);
  const mark = (state: string) =>
    attempt(async () => {
      await send_json("PATCH", `${base}/dagRuns/${enc(props.run_id)}/taskInstances/${enc(props.task_id)}`, {
        new_state: state, include_downstream: downstream,
      });
      return `marked ${props.task_id}${downstream ? " and its downstream" : ""} ${state}`;
    }, setMsg, props.onChanged);
  return (
    <div class="ti-actions" data-testid="ti-actions">
      <label>
        <input type="checkbox" checked={downstream} onChange={() => setDownstream(!downstream)} name="downstream" /> with downstream
      </label>
      <button class="button small" onClick={clear} data-testid="ti-clear">Clear</button>
      <button class="button small" onClick={() => mark("success")} data-testid="ti-mark-success">Mark success</button>
      <button class="button small" onClick={() => mark("failed")} data-testid="ti-mark-failed">Mark failed</button>
      <Message {...msg} />
    </div>
  );
}

// A run: its facts, conf, actions and Gantt chart.
export function RunPanel(props: { dag_id: string; run: DagRun; tis: Map<string, TaskInstance>; tasks: Task[]; onChanged: () => void;
                                  onClose: () => void; onSelectTask: (task_id: string) => void }) {
  const { run } = props;
  const [msg, setMsg] = useState({ text: "", error: false });
  const base = `/api/v1/dags/${enc(props.dag_id)}/dagRuns/${enc(run.dag_run_id)}`;
  const clear = () =>
    attempt(async () => {
      await send_json("POST", `${base}/clear`, { dry_run: false });
      return `cleared run ${run.dag_run_id}`;
    }, setMsg, props.onChanged);
  const mark = (state: string) =>
    attempt(async () => {
      await send_json("PATCH", base, { state });
      return `marked run ${run.dag_run_id} ${state}`;
    }, setMsg, props.onChanged);
  // Gantt: each task's bar from its start to its end, on the run's time axis.
  const times = [...props.tis.values()].flatMap((t) => [t.start_date, t.end_date]).filter((x): x is string => !!x).map((x) => Date.parse(x));
  const t0 = times.length ? Math.min(...times) : 0;
  const t1 = times.length ? Math.max(...times, t0 + 1) : 1;
  const width = 520, row = 22, label = 170;
  const now = Date.now();
  return (
    <section class="card run-panel" data-testid="run-panel">
      <div class="panel-head">
        <h3>
          run <span class="mono">{run.dag_run_id}</span> <StateBadge state={run.state} />
        </h3>
        <button class="button" onClick={props.onClose}>close</button>
      </div>
      <dl class="facts">
        <dt>type</dt><dd>{run.run_type}</dd>
        <dt>logical date</dt><dd>{format_time(run.logical_date)}</dd>
        <dt>started</dt><dd>{format_time(run.start_date)}</dd>
        <dt>ended</dt><dd>{format_time(run.end_date)}</dd>
        <dt>duration</dt><dd>{run.start_date ? format_duration_ms((run.end_date ? Date.parse(run.end_date) : now) - Date.parse(run.start_date)) : "–"}</dd>
        <dt>conf</dt><dd><pre class="conf" data-testid="run-conf">{JSON.stringify(run.conf ?? {}, null, 2)}</pre></dd>
      </dl>
      <div class="actions">
        <button class="button small" onClick={clear} data-testid="run-clear">Clear run</button>
        <button class="button small" onClick={() => mark("success")} data-testid="run-mark-success">Mark success</button>
        <button class="button small" onClick={() => mark("failed")} data-testid="run-mark-failed">Mark failed</button>
      </div>
      <Message {...msg} />
      <h4>Gantt</h4>
      <svg class="gantt" width={label + width + 70} height={props.tasks.length * row + 24} data-testid="gantt">
        {props.tasks.map((task, i) => {
          const ti = props.tis.get(task.task_id);
          const start = ti?.start_date ? Date.parse(ti.start_date) : null;
          const end = ti?.end_date ? Date.parse(ti.end_date) : start !== null ? now : null;
          const x = start !== null ? label + ((start - t0) / (t1 - t0)) * width : 0;
          const w = start !== null && end !== null ? Math.max(2, ((Math.min(end, t1) - start) / (t1 - t0)) * width) : 0;
          return (
            <g key={task.task_id} transform={`translate(0,${i * row})`} onClick={() => props.onSelectTask(task.task_id)}>
              <text x={0} y={15} class="mono small">{task.task_id}</text>
              {start !== null ? (
                <rect x={x} y={4} width={w} height={14} rx={3} class={`bar state-${ti?.state ?? "none"}`} data-testid={`gantt-${task.task_id}`}>
                  <title>{`${task.task_id}: ${ti?.state ?? "none"}, ${ti?.duration !== null && ti?.duration !== undefined ? format_duration_ms(ti.duration * 1000) : "running"}`}</title>
                </rect>
              ) : null}
              {ti?.duration !== null && ti?.duration !== undefined ? (
                <text x={x + w + 4} y={15} class="small muted">{format_duration_ms(ti.duration * 1000)}</text>
              ) : null}
            </g>
          );
        })}
        <text x={label} y={props.tasks.length * row + 18} class="small muted">0</text>
        <text x={label + width} y={props.tasks.length * row + 18} class="small muted" text-anchor="end">{format_duration_ms(t1 - t0)}</text>
      </svg>
    </section>
  );
}

// Bulk clear of failed tasks, with the dry run's count first.
export function ClearFailed(props: { dag_id: string; onChanged: () => void }) {
  const [pending, setPending] = useState<changed | null>(null);
  const [msg, setMsg] = useState({ text: "", error: false });
  const url = `/api/v1/dags/${enc(props.dag_id)}/clearTaskInstances`;
  const preview = () =>
    attempt(async () => {
      const r = await send_json<changed>("POST", url, { dry_run: true, only_failed: true });
      setPending(r);
      return r.total_entries ? `${r.total_entries} failed task instance(s) would be cleared` : "no failed task instances";
    }, setMsg);
  const confirm = () =>
    attempt(async () => {
      const r = await send_json<changed>("POST", url, { dry_run: false, only_failed: true });
      setPending(null);
      return `cleared ${r.total_entries} failed task instance(s)`;
    }, setMsg, props.onChanged);
  return (
    <div class="inline-op" data-testid="clear-failed">
      <button class="button small" onClick={preview} data-testid="clear-failed-preview">Clear failed tasks…</button>
      {pending && pending.total_entries > 0 ? (
        <button class="button small danger" onClick={confirm} data-testid="clear-failed-confirm">Clear {pending.total_entries}</button>
      ) : null}
      <Message {...msg} />
    </div>
  );
}

interface backfill_answer {
  backfills: { logical_date: string; dag_run_id: string; action: string }[];
  runs_to_run: number;
}

export function BackfillForm(props: { dag_id: string; onCreated: () => void }) {
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const [reprocess, setReprocess] = useState("none");
  const [plan, setPlan] = useState<backfill_answer | null>(null);
  const [msg, setMsg] = useState({ text: "", error: false });
  const body = () => ({ dag_id: props.dag_id, from_date: from, to_date: to, reprocess_behavior: reprocess });
  const dry = () =>
    attempt(async () => {
      const r = await send_json<backfill_answer>("POST", "/api/v1/backfills/dry_run", body());
      setPlan(r);
      return `${r.runs_to_run} run(s) would run`;
    }, setMsg);
  const run = () =>
    attempt(async () => {
      const r = await send_json<backfill_answer>("POST", "/api/v1/backfills", body());
      setPlan(null);
      return `backfill: ${r.runs_to_run} run(s) queued`;
    }, setMsg, props.onCreated);
  return (
    <details class="backfill" data-testid="backfill">
      <summary>Backfill</summary>
      <div class="actions">
        <label>from <input type="date" value={from} onInput={(e) => setFrom((e.target as HTMLInputElement).value)} name="backfill-from" /></label>
        <label>to <input type="date" value={to} onInput={(e) => setTo((e.target as HTMLInputElement).value)} name="backfill-to" /></label>
        <label>
          existing runs{" "}
          <select value={reprocess} onChange={(e) => setReprocess((e.target as HTMLSelectElement).value)} name="backfill-reprocess">
            <option value="none">keep</option>
            <option value="failed">rerun failed</option>
            <option value="completed">rerun all</option>
          </select>
        </label>
        <button class="button small" onClick={dry} disabled={!from || !to} data-testid="backfill-dry-run">Dry run</button>
        <button class="button small primary" onClick={run} disabled={!plan} data-testid="backfill-run">Backfill</button>
      </div>
      <Message {...msg} />
      {plan ? (
        <table class="xcoms" data-testid="backfill-plan">
          <thead><tr><th>logical date</th><th>run</th><th>action</th></tr></thead>
          <tbody>
            {plan.backfills.map((b) => (
              <tr key={b.logical_date}><td>{format_time(b.logical_date)}</td><td class="mono">{b.dag_run_id}</td><td>{b.action}</td></tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </details>
  );
}

// Task durations across the grid's runs: one line per task, seconds on the y axis.
export function DurationChart(props: { tasks: Task[]; grid: { run: DagRun; tis: Map<string, TaskInstance> }[] }) {
  const w = 560, h = 150, left = 48, bottom = 20;
  const values = props.grid.flatMap((g) => [...g.tis.values()].map((t) => t.duration ?? 0));
  const max = Math.max(1, ...values);
  const step = props.grid.length > 1 ? (w - left - 10) / (props.grid.length - 1) : 0;
  const y = (s: number) => 10 + (h - bottom - 10) * (1 - s / max);
  const palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"];
  return (
    <div>
      <svg class="durations" width={w} height={h} data-testid="duration-chart">
        <line x1={left} y1={y(0)} x2={w - 10} y2={y(0)} class="axis" />
        <text x={left - 4} y={y(max) + 4} text-anchor="end" class="small muted">{format_duration_ms(max * 1000)}</text>
        <text x={left - 4} y={y(0) + 4} text-anchor="end" class="small muted">0 s</text>
        {props.tasks.map((task, i) => {
          const points = props.grid
            .map((g, gi) => {
              const d = g.tis.get(task.task_id)?.duration;
              return d === null || d === undefined ? null : `${left + gi * step},${y(d)}`;
            })
            .filter((p): p is string => p !== null);
          return points.length ? (
            <polyline key={task.task_id} points={points.join(" ")} fill="none" stroke={palette[i % palette.length]} stroke-width={2}>
              <title>{task.task_id}</title>
            </polyline>
          ) : null;
        })}
      </svg>
      <div class="legend small">
        {props.tasks.map((task, i) => (
          <span key={task.task_id}><span class="swatch" style={`background:${palette[i % palette.length]}`} /> {task.task_id}</span>
        ))}
      </div>
    </div>
  );
}

// "in 3 h 20 m (Mon 8 Dec 00:00 local)", or "overdue" for a past time.
export function next_run_text(iso: string | null): string {
  if (!iso) return "none scheduled";
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  const local = new Date(t).toLocaleString(undefined, { weekday: "short", day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
  const delta = t - Date.now();
  if (delta <= 0) return `due now (${local})`;
  return `in ${format_duration_ms(delta)} (${local})`;
}
