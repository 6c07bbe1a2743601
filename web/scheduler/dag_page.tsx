import { useEffect, useState } from "preact/hooks";
import { get_json } from "@shared/api";
import { StateBadge } from "@shared/shell";
import { format_duration_ms, format_time } from "@shared/format";
import { usePoll } from "./poll";
import { ImportErrors, set_paused, trigger } from "./dag_list";
import type { Dag, DagRun, Task, TaskInstance, TaskTry, XComEntry } from "./types";
import { BackfillForm, ClearFailed, DurationChart, next_run_text, RunPanel, TaskActions, TriggerWithConfig } from "./operate";

const enc = encodeURIComponent;

interface Selection {
  run_id: string;
  task_id: string;
}

// Layers by longest path from a root; edges drawn as curves between layers.
function Graph(props: { tasks: Task[]; states: Map<string, string | null>; onSelect: (task_id: string) => void }) {
  const depth = new Map<string, number>();
  const by_id = new Map(props.tasks.map((t) => [t.task_id, t]));
  const depth_of = (id: string, seen = new Set<string>()): number => {
    if (depth.has(id)) return depth.get(id)!;
    if (seen.has(id)) return 0;
    seen.add(id);
    const task = by_id.get(id);
    const d = task && task.upstream_task_ids.length ? 1 + Math.max(...task.upstream_task_ids.map((u) => depth_of(u, seen))) : 0;
    depth.set(id, d);
    return d;
  };
  props.tasks.forEach((t) => depth_of(t.task_id));
  const layers: string[][] = [];
  props.tasks.forEach((t) => (layers[depth.get(t.task_id)!] ??= []).push(t.task_id));
  const w = 170, h = 38, gx = 60, gy = 18;
  const pos = new Map<string, { x: number; y: number }>();
  layers.forEach((layer, li) => layer.forEach((id, ri) => pos.set(id, { x: 10 + li * (w + gx), y: 10 + ri * (h + gy) })));
  // At least one node's room: before the tasks load there are no layers.
  const width = 20 + Math.max(1, layers.length) * (w + gx) - gx;
  const height = 20 + Math.max(1, ...layers.map((l) => l.length)) * (h + gy) - gy;
  return (
    <svg class="graph" width={width} height={height} data-testid="graph">
      {props.tasks.flatMap((t) =>
        t.upstream_task_ids.map((u) => {
          const a = pos.get(u)!, b = pos.get(t.task_id)!;
          const x1 = a.x + w, y1 = a.y + h / 2, x2 = b.x, y2 = b.y + h / 2;
          return <path key={`${u}>${t.task_id}`} class="edge" d={`M${x1},${y1} C${x1 + gx / 2},${y1} ${x2 - gx / 2},${y2} ${x2},${y2}`} />;
        }),
      )}
      {props.tasks.map((t) => {
        const p = pos.get(t.task_id)!;
        const state = props.states.get(t.task_id) ?? "none";
        return (
          <g key={t.task_id} class={`node state-${state}`} transform={`translate(${p.x},${p.y})`} onClick={() => props.onSelect(t.task_id)}
             data-testid={`node-${t.task_id}`} data-state={state}>
            <rect width={w} height={h} rx={6} />
            <text x={10} y={16}>{t.task_id}</text>
            <text x={10} y={31} class="kind">{t.operator_name}</text>
          </g>
        );
      })}
    </svg>
  );
}

// The "Code" tab: the DAG file's source (Airflow's dagSources endpoint).
function Code(props: { token: string }) {
  const [open, setOpen] = useState(false);
  const [text, setText] = useState<string>("");
  useEffect(() => {
    if (!open || text) return;
    get_json<{ content: string }>(`/api/v1/dagSources/${enc(props.token)}`)
      .then((r) => setText(r.content))
      .catch((e) => setText(String(e.message)));
  }, [open, props.token]);
  return (
    <details class="code" onToggle={(e) => setOpen((e.currentTarget as HTMLDetailsElement).open)}>
      <summary data-testid="code-tab">Code</summary>
      <pre class="log" data-testid="code">{text || "loading…"}</pre>
    </details>
  );
}

// The state a mapped task shows for its instances (the scheduler's mapped_summary).
function mapped_state(list: TaskInstance[]): string | null {
  const has = (s: string) => list.some((t) => t.state === s);
  const done = list.every((t) => ["success", "failed", "upstream_failed", "skipped"].includes(t.state ?? ""));
  if (!done) return has("running") ? "running" : has("queued") ? "queued" : has("up_for_retry") ? "up_for_retry" : null;
  return has("failed") ? "failed" : has("upstream_failed") ? "upstream_failed" : has("success") ? "success" : "skipped";
}

// One row per task: a mapped task's instances grouped under a summary row.
function group_tis(list: TaskInstance[]): Map<string, TaskInstance> {
  const out = new Map<string, TaskInstance>();
  for (const t of list) {
    if (t.map_index < 0) {
      out.set(t.task_id, t);
      continue;
    }
    const prev = out.get(t.task_id);
    const mapped = [...(prev?.mapped ?? []), t];
    const ends = mapped.map((m) => m.end_date).filter((x): x is string => !!x).sort();
    const starts = mapped.map((m) => m.start_date).filter((x): x is string => !!x).sort();
    out.set(t.task_id, {
      ...t, mapped, state: mapped_state(mapped), try_number: Math.max(...mapped.map((m) => m.try_number)),
      start_date: starts[0] ?? null, end_date: ends.length === mapped.length ? ends[ends.length - 1] : null,
      duration: Math.max(...mapped.map((m) => m.duration ?? 0)), note: null,
    });
  }
  return out;
}

// "4 mapped: 3 success, 1 failed".
function mapped_counts(list: TaskInstance[]): string {
  const counts = new Map<string, number>();
  for (const t of list) counts.set(t.state ?? "none", (counts.get(t.state ?? "none") ?? 0) + 1);
  return `${list.length} mapped: ${[...counts].map(([s, n]) => `${n} ${s}`).join(", ")}`;
}

// The lines a task's log calls its summary ("summary: 200 new users, ..."), shown first.
function summary_lines(log: string): string[] {
  return log.split("\n").filter((l) => /\bsummary: /.test(l)).map((l) => l.replace(/^.*?\bsummary: /, ""));
}

// One try's rendered template fields (Airflow's "Rendered Template" view), for the try
// the log shows. Values are rendered as text nodes, never as HTML.
function Rendered(props: { base: string; try_number: number; state: string | null | undefined }) {
  const { base, try_number } = props;
  const tr = usePoll(
    () => (try_number >= 1 ? get_json<TaskTry>(`${base}/tries/${try_number}`) : Promise.resolve(undefined)),
    [base, try_number, props.state],
    3000,
  );
  const fields = Object.entries(tr.value?.rendered_fields ?? {});
  const text = (v: unknown) => (typeof v === "string" ? v : JSON.stringify(v, null, 2));
  return (
    <div class="rendered" data-testid="rendered" data-try={try_number}>
      <h4>
        Rendered templates <span class="muted small">of try {try_number}</span>
      </h4>
      {tr.error ? <p class="error-line">{tr.error}</p> : null}
      {fields.length === 0 ? (
        <p class="muted small" data-testid="rendered-empty">
          {try_number < 1 ? "no try has started yet" : tr.value?.end_date ? "no templated fields" : "rendered when the try ends"}
        </p>
      ) : (
        <table class="xcoms rendered-fields">
          <tbody>
            {fields.map(([name, value]) => (
              <tr key={name}>
                <th class="mono">{name}</th>
                <td><pre class="mono rendered-value" data-testid={`rendered-${name}`}>{text(value)}</pre></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

function LogPanel(props: { dag_id: string; sel: Selection; run?: DagRun; mapped?: TaskInstance[]; onClose: () => void; onChanged: () => void }) {
  const { sel, dag_id } = props;
  const task_base = `/api/v1/dags/${enc(dag_id)}/dagRuns/${enc(sel.run_id)}/taskInstances/${enc(sel.task_id)}`;
  // A mapped task: one instance at a time (map_index in the paths, as Airflow's API).
  const [map_index, setMapIndex] = useState<number>(0);
  useEffect(() => setMapIndex(0), [task_base]);
  const mapped = props.mapped !== undefined && props.mapped.length > 0;
  const base = mapped ? `${task_base}/${map_index}` : task_base;
  const query = mapped ? `?map_index=${map_index}` : "";
  const ti = usePoll(() => get_json<TaskInstance>(base), [base]);
  const [attempt, setAttempt] = useState<number | undefined>(undefined);
  const tries = ti.value?.try_number ?? 0;
  const shown = attempt ?? tries;
  const [log, setLog] = useState<string>("");
  useEffect(() => setAttempt(undefined), [base]);
  useEffect(() => {
    if (shown < 1) {
      setLog("");
      return;
    }
    let alive = true;
    fetch(`${task_base}/logs/${shown}${query}`, { headers: { Accept: "text/plain" } })
      .then((r) => r.text())
      .then((text) => alive && setLog(text))
      .catch(() => undefined);
    return () => {
      alive = false;
    };
  }, [base, shown, ti.value?.state, ti.value?.end_date]);
  const xcoms = usePoll(() => get_json<{ xcom_entries: XComEntry[] }>(`${task_base}/xcomEntries${query}`), [base, ti.value?.state]);
  const t = ti.value;
  return (
    <section class="card ti-panel" data-testid="ti-panel">
      <div class="panel-head">
        <h3>
          {sel.task_id} <span class="muted small">in {sel.run_id}</span>
        </h3>
        <button class="button" onClick={props.onClose}>close</button>
      </div>
      {mapped ? (
        <div class="mapped" data-testid="mapped-instances">
          <p class="muted small">{mapped_counts(props.mapped ?? [])} · map index:</p>
          {(props.mapped ?? []).map((m) => (
            <button key={m.map_index} class={`button small state-${m.state ?? "none"} ${m.map_index === map_index ? "primary" : ""}`}
              title={`map_index ${m.map_index} · ${m.state ?? "none"} · try ${m.try_number}`}
              data-testid={`map-index-${m.map_index}`} data-state={m.state ?? "none"}
              onClick={() => setMapIndex(m.map_index)}>{m.map_index}</button>
          ))}
        </div>
      ) : null}
      {ti.error ? <p class="error-line">{ti.error}</p> : null}
      {t ? (
        <dl class="facts">
          <dt>state</dt><dd><StateBadge state={t.state} /></dd>
          <dt>try</dt><dd>{t.try_number} of {t.max_tries + 1}</dd>
          <dt>kind</dt><dd>{t.operator}</dd>
          <dt>started</dt><dd>{format_time(t.start_date)}</dd>
          <dt>ended</dt><dd>{format_time(t.end_date)}</dd>
          <dt>duration</dt><dd>{t.duration !== null ? format_duration_ms(t.duration * 1000) : "–"}</dd>
          {t.next_retry_at ? (<><dt>next retry</dt><dd>{format_time(t.next_retry_at)}</dd></>) : null}
          {t.note ? (<><dt>note</dt><dd class={t.state === "failed" || t.state === "up_for_retry" ? "error-line" : ""}>{t.note}</dd></>) : null}
        </dl>
      ) : null}
      <TaskActions dag_id={dag_id} run_id={sel.run_id} task_id={sel.task_id} onChanged={() => (ti.refresh(), props.onChanged())} />
      {props.run ? (
        <details class="conf-details" open>
          <summary>run conf</summary>
          <pre class="conf" data-testid="ti-run-conf">{JSON.stringify(props.run.conf ?? {}, null, 2)}</pre>
        </details>
      ) : null}
      {summary_lines(log).length > 0 ? (
        <div class="summary" data-testid="log-summary">
          {summary_lines(log).map((l, i) => <p key={i}>{l}</p>)}
        </div>
      ) : null}
      {tries > 0 ? (
        <div class="tries" data-testid="tries">
          try{" "}
          {Array.from({ length: tries }, (_, i) => i + 1).map((n) => (
            <button key={n} class={`button small ${n === shown ? "primary" : ""}`} data-testid={`try-${n}`}
              onClick={() => setAttempt(n)}>{n}</button>
          ))}
        </div>
      ) : null}
      <Rendered base={base} try_number={shown} state={t?.state} />
      {xcoms.value && xcoms.value.xcom_entries.length > 0 ? (
        <table class="xcoms" data-testid="xcoms">
          <thead><tr><th>XCom key</th><th>value</th></tr></thead>
          <tbody>
            {xcoms.value.xcom_entries.map((x) => (
              <tr key={x.key}><td class="mono">{x.key}</td><td class="mono">{x.value}</td></tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <pre class="log" data-testid="log">{tries > 0 ? log || "(empty)" : "no try has started yet"}</pre>
    </section>
  );
}

export function DagPage(props: { dag_id: string }) {
  const id = enc(props.dag_id);
  const dag = usePoll(() => get_json<Dag>(`/api/v1/dags/${id}`), [id]);
  const tasks = usePoll(() => get_json<{ tasks: Task[] }>(`/api/v1/dags/${id}/tasks`), [id], 5000);
  const runs = usePoll(async () => {
    const r = await get_json<{ dag_runs: DagRun[] }>(`/api/v1/dags/${id}/dagRuns?limit=20&order_by=-logical_date`);
    const list = r.dag_runs.slice().reverse();
    const tis = await Promise.all(
      list.map((run) =>
        get_json<{ task_instances: TaskInstance[] }>(`/api/v1/dags/${id}/dagRuns/${enc(run.dag_run_id)}/taskInstances`),
      ),
    );
    return list.map((run, i) => ({ run, tis: group_tis(tis[i].task_instances) }));
  }, [id]);
  const [sel, setSel] = useState<Selection | undefined>(undefined);
  const [run_sel, setRunSel] = useState<string | undefined>(undefined);
  const [with_config, setWithConfig] = useState(false);
  const [message, setMessage] = useState("");
  const grid = runs.value ?? [];
  const run_ms = (r: DagRun) => (r.start_date ? (r.end_date ? Date.parse(r.end_date) : Date.now()) - Date.parse(r.start_date) : 0);
  const max_run_ms = Math.max(1, ...grid.map((g) => run_ms(g.run)));
  const run_panel = run_sel ? grid.find((g) => g.run.dag_run_id === run_sel) : undefined;
  const selected_run = sel ? grid.find((g) => g.run.dag_run_id === sel.run_id) : grid[grid.length - 1];
  const states = new Map<string, string | null>();
  selected_run?.tis.forEach((t, k) => states.set(k, t.state));
  const d = dag.value;
  const task_list = tasks.value?.tasks ?? [];
  return (
    <>
      <ImportErrors />
      <section class="card">
        <div class="panel-head">
          <h2>
            <a href="#/">DAGs</a> / <span data-testid="dag-title">{props.dag_id}</span>
          </h2>
          {d ? (
            <div class="actions">
              <label class="toggle">
                <input type="checkbox" checked={!d.is_paused} data-testid="pause-toggle"
                  onChange={() => set_paused(d.dag_id, !d.is_paused).then(dag.refresh)} />
                <span />
              </label>
              <span class="muted">{d.is_paused ? "paused" : "active"}</span>
              <button class="button primary" data-testid="trigger"
                onClick={() =>
                  trigger(d.dag_id)
                    .then((run_id) => {
                      setMessage(`triggered ${run_id}`);
                      setSel(undefined);
                      runs.refresh();
                    })
                    .catch((e) => setMessage(String(e.message)))
                }>
                ▶ Trigger
              </button>
              <button class="button" data-testid="trigger-with-config" onClick={() => setWithConfig(true)}>
                Trigger with config…
              </button>
            </div>
          ) : null}
        </div>
        {dag.error ? <p class="error-line">{dag.error}</p> : null}
        {message ? <p class="muted">{message}</p> : null}
        {d ? (
          <p class="muted small">
            {d.description ?? ""} · schedule{" "}
            <span class="mono">
              {d.schedule_interval?.value ??
                (d.schedule_interval?.__type === "TimeDelta"
                  ? `every ${(d.schedule_interval.days ?? 0) * 86400 + (d.schedule_interval.seconds ?? 0)} s`
                  : "manual")}
            </span>{" "}
            ({d.timezone}) · next run{" "}
            <span data-testid="next-run" title={`logical date ${format_time(d.next_dagrun)}`}>
              {d.next_dagrun ? next_run_text(d.next_dagrun_data_interval_end ?? d.next_dagrun) : "none scheduled"}
            </span>{" "}
            · {d.fileloc}
          </p>
        ) : null}
        {d && d.doc_md ? <pre class="doc-md">{d.doc_md}</pre> : null}
        {d ? <Code token={d.file_token} /> : null}
        {d ? (
          <div class="ops">
            <ClearFailed dag_id={d.dag_id} onChanged={runs.refresh} />
            <BackfillForm dag_id={d.dag_id} onCreated={runs.refresh} />
          </div>
        ) : null}
      </section>
      {with_config && d ? (
        <TriggerWithConfig dag={d} onClose={() => setWithConfig(false)}
          onTriggered={(run_id) => (setMessage(`triggered ${run_id}`), setSel(undefined), runs.refresh())} />
      ) : null}
      <section class="card">
        <h3>Graph {selected_run ? <span class="muted small">of {selected_run.run.dag_run_id}</span> : null}</h3>
        <div class="graph-wrap">
          <Graph tasks={task_list} states={states}
            onSelect={(task_id) => selected_run && setSel({ run_id: selected_run.run.dag_run_id, task_id })} />
        </div>
      </section>
      <section class="card">
        <h3>Recent runs</h3>
        <div class="grid-wrap">
          <table class="run-grid" data-testid="grid">
            <thead>
              <tr>
                <th></th>
                {grid.map((g) => {
                  const ms = g.run.start_date ? (g.run.end_date ? Date.parse(g.run.end_date) : Date.now()) - Date.parse(g.run.start_date) : 0;
                  return (
                    <th key={g.run.dag_run_id} class="run-head"
                      title={`${g.run.dag_run_id}\n${g.run.state}\nlogical date ${format_time(g.run.logical_date)}\nduration ${ms ? format_duration_ms(ms) : "–"}`}>
                      <button class="run-button" onClick={() => setRunSel(g.run.dag_run_id)} data-testid="run-head" data-run={g.run.dag_run_id}>
                        <span class={`run-bar state-${g.run.state}`} data-testid="run-state" data-state={g.run.state}
                          style={`height:${6 + Math.round((ms / max_run_ms) * 34)}px`} />
                      </button>
                    </th>
                  );
                })}
              </tr>
            </thead>
            <tbody>
              {task_list.map((t) => (
                <tr key={t.task_id}>
                  <th class="mono">{t.task_id}</th>
                  {grid.map((g) => {
                    const ti = g.tis.get(t.task_id);
                    const state = ti?.state ?? "none";
                    const active = sel && sel.run_id === g.run.dag_run_id && sel.task_id === t.task_id;
                    return (
                      <td key={g.run.dag_run_id}>
                        <button class={`cell state-${state} ${active ? "active" : ""}`}
                          title={`${t.task_id} · ${g.run.dag_run_id} · ${state}${ti?.mapped ? ` · ${mapped_counts(ti.mapped)}` : ""}${ti?.duration !== null && ti?.duration !== undefined ? ` · ${format_duration_ms(ti.duration * 1000)}` : ""}${ti?.try_number ? ` · try ${ti.try_number}` : ""}`}
                          data-testid={`cell-${t.task_id}`} data-run={g.run.dag_run_id} data-state={state}
                          data-mapped={ti?.mapped ? ti.mapped.length : undefined}
                          onClick={() => setSel({ run_id: g.run.dag_run_id, task_id: t.task_id })}>
                          {ti?.mapped ? <span class="mapped-count">{ti.mapped.length}</span> : null}
                        </button>
                      </td>
                    );
                  })}
                </tr>
              ))}
            </tbody>
          </table>
          {grid.length === 0 ? <p class="muted">No runs yet.</p> : null}
        </div>
        {grid.length > 0 ? (
          <p class="muted small" data-testid="grid-dates">
            runs from {format_time(grid[0].run.logical_date)} to {format_time(grid[grid.length - 1].run.logical_date)} (logical dates) ·
            bar height = run duration, longest {format_duration_ms(max_run_ms)} · click a bar for the run, a cell for the task
          </p>
        ) : null}
        <div class="legend small" data-testid="grid-legend">
          {["success", "running", "queued", "failed", "up_for_retry", "upstream_failed", "skipped", "none"].map((s) => (
            <span key={s}><span class={`cell state-${s} swatch`} /> {s}</span>
          ))}
        </div>
      </section>
      {run_panel ? (
        <RunPanel dag_id={props.dag_id} run={run_panel.run} tis={run_panel.tis} tasks={task_list} onChanged={runs.refresh}
          onClose={() => setRunSel(undefined)} onSelectTask={(task_id) => setSel({ run_id: run_panel.run.dag_run_id, task_id })} />
      ) : null}
      {sel ? (
        <LogPanel dag_id={props.dag_id} sel={sel} run={grid.find((g) => g.run.dag_run_id === sel.run_id)?.run}
          mapped={grid.find((g) => g.run.dag_run_id === sel.run_id)?.tis.get(sel.task_id)?.mapped}
          onClose={() => setSel(undefined)} onChanged={runs.refresh} />
      ) : null}
      {grid.length > 1 ? (
        <section class="card">
          <h3>Task durations</h3>
          <DurationChart tasks={task_list} grid={grid} />
        </section>
      ) : null}
    </>
  );
}
