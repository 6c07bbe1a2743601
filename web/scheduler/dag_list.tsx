import { get_json, send_json } from "@shared/api";
import { StateBadge } from "@shared/shell";
import { format_time } from "@shared/format";
import { usePoll } from "./poll";
import type { Dag, ImportError } from "./types";
import { useState } from "preact/hooks";

export async function trigger(dag_id: string): Promise<string> {
  const run = await send_json<{ dag_run_id: string }>("POST", `/api/v1/dags/${encodeURIComponent(dag_id)}/dagRuns`, {
    conf: {},
  });
  return run.dag_run_id;
}

export function set_paused(dag_id: string, paused: boolean) {
  return send_json("PATCH", `/api/v1/dags/${encodeURIComponent(dag_id)}?update_mask=is_paused`, { is_paused: paused });
}

export function ImportErrors() {
  const { value } = usePoll(() => get_json<{ import_errors: ImportError[] }>("/api/v1/importErrors"), []);
  if (!value || value.import_errors.length === 0) return null;
  return (
    <section class="card import-errors" data-testid="import-errors">
      <h3>DAG files with errors</h3>
      {value.import_errors.map((e) => (
        <pre key={e.import_error_id} class="error-line">{e.stack_trace}</pre>
      ))}
    </section>
  );
}

export function DagList() {
  const { value, error, refresh } = usePoll(() => get_json<{ dags: Dag[]; total_entries: number }>("/api/v1/dags"), []);
  const [message, setMessage] = useState<string>("");
  const act = async (what: Promise<unknown>, done: string) => {
    try {
      await what;
      setMessage(done);
    } catch (e) {
      setMessage(String((e as Error).message));
    }
    refresh();
  };
  return (
    <>
      <ImportErrors />
      <section class="card">
        <h2>DAGs {value ? <span class="muted">({value.total_entries})</span> : null}</h2>
        {error ? <p class="error-line">{error}</p> : null}
        {message ? <p class="muted" data-testid="message">{message}</p> : null}
        <table class="table">
          <thead>
            <tr>
              <th>active</th>
              <th>DAG</th>
              <th>schedule</th>
              <th>last run</th>
              <th>next run</th>
              <th>tags</th>
              <th></th>
            </tr>
          </thead>
          <tbody>
            {(value?.dags ?? []).map((dag) => (
              <tr key={dag.dag_id} data-testid={`dag-row-${dag.dag_id}`}>
                <td>
                  <label class="toggle" title={dag.is_paused ? "paused: click to unpause" : "active: click to pause"}>
                    <input
                      type="checkbox"
                      checked={!dag.is_paused}
                      data-testid={`pause-${dag.dag_id}`}
                      onChange={() =>
                        act(set_paused(dag.dag_id, !dag.is_paused), `${dag.is_paused ? "unpaused" : "paused"} ${dag.dag_id}`)
                      }
                    />
                    <span />
                  </label>
                </td>
                <td>
                  <a href={`#/dags/${encodeURIComponent(dag.dag_id)}`} class="dag-link">{dag.dag_id}</a>
                  {dag.description ? <div class="muted small">{dag.description}</div> : null}
                </td>
                <td class="mono">{dag.schedule_interval?.value ?? "manual"}</td>
                <td>{dag.last_run_state ? <StateBadge state={dag.last_run_state} /> : <span class="muted">–</span>}</td>
                <td class="mono small">{format_time(dag.next_dagrun)}</td>
                <td>{dag.tags.map((t) => <span key={t.name} class="tag">{t.name}</span>)}</td>
                <td>
                  <button
                    class="button primary"
                    data-testid={`trigger-${dag.dag_id}`}
                    onClick={() => act(trigger(dag.dag_id).then((id) => id), `triggered ${dag.dag_id}`)}
                  >
                    ▶ Trigger
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {value && value.dags.length === 0 ? <p class="muted">No DAGs yet: add YAML files to the DAG folder.</p> : null}
      </section>
    </>
  );
}
