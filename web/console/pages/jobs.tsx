import { useState } from "preact/hooks";
import { format_count } from "@shared/format";
import { use_json } from "../live";
import { ErrorBanner, rate } from "./common";

interface job {
  name: string;
  file: string;
  state: string;
  group: string;
  sources: string[];
  sinks: string[];
  records_in: number;
  rows_out: number;
  rejected: number;
  records_in_per_second: number;
  rows_out_per_second: number;
  lag: number;
  assigned_partitions: number;
  last_error: string;
  sql: string;
  plan: string;
  admin: string;
}

interface jobs_reply {
  jobs: job[];
  unreachable: { admin: string; error: string }[];
}

const state_class = (s: string) => (s === "running" ? "green" : s === "starting" || s === "stopping" ? "amber" : "red");

// The stream jobs (jobs/*.sql) of every running `millrace process`: state,
// live rates and lag, the last error, and each job's SQL and plan.
export function JobsPage() {
  const { data, error } = use_json<jobs_reply>("/api/jobs", 2000);
  const [open, set_open] = useState<string | null>(null);
  return (
    <section class="card">
      <h2>Stream jobs</h2>
      <ErrorBanner error={error} />
      {!data && !error && <p class="muted">Loading…</p>}
      {data && data.jobs.length === 0 && <p class="muted">No running process reports jobs (processor.jobs_dir, `millrace jobs list`).</p>}
      {data && data.jobs.length > 0 && (
        <table class="table" data-testid="jobs">
          <thead>
            <tr>
              <th>job</th>
              <th>state</th>
              <th>in/s</th>
              <th>out/s</th>
              <th>lag</th>
              <th>rejected</th>
              <th>sources → sinks</th>
              <th>last error</th>
            </tr>
          </thead>
          <tbody>
            {data.jobs.map((j) => {
              const key = `${j.admin}/${j.name}`;
              return [
                <tr key={key} data-testid={`job-${j.name}`} data-state={j.state} onClick={() => set_open(open === key ? null : key)} style="cursor:pointer">
                  <td title={j.file}>{j.name}</td>
                  <td>
                    <span class={`pill ${state_class(j.state)}`}>{j.state}</span>
                  </td>
                  <td>{rate(j.records_in_per_second)}</td>
                  <td>{rate(j.rows_out_per_second)}</td>
                  <td>{format_count(j.lag)}</td>
                  <td>{format_count(j.rejected)}</td>
                  <td class="muted">
                    {j.sources.join(", ")} → {j.sinks.join("; ")}
                  </td>
                  <td class="muted">{j.last_error ? j.last_error.split("\n")[0] : "–"}</td>
                </tr>,
                open === key && (
                  <tr key={`${key}-detail`}>
                    <td colSpan={8}>
                      <p class="muted">
                        {j.file} · group {j.group} · {j.assigned_partitions} partitions · {format_count(j.records_in)} records in ·{" "}
                        {format_count(j.rows_out)} rows out · admin {j.admin}
                      </p>
                      {j.last_error && <pre data-testid="job-error">{j.last_error}</pre>}
                      <h3>SQL</h3>
                      <pre data-testid="job-sql">{j.sql}</pre>
                      {j.plan && (
                        <>
                          <h3>Plan</h3>
                          <pre data-testid="job-plan">{j.plan}</pre>
                        </>
                      )}
                    </td>
                  </tr>
                ),
              ];
            })}
          </tbody>
        </table>
      )}
      {data && data.unreachable.length > 0 && (
        <p class="muted">Not answering: {data.unreachable.map((u) => u.admin).join(", ")}</p>
      )}
      <p class="muted">Rates refresh every 2 s. Click a job for its SQL and plan.</p>
    </section>
  );
}
