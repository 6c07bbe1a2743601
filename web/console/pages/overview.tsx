import { useEffect, useState } from "preact/hooks";
import { get_json } from "@shared/api";
import { StateBadge } from "@shared/shell";
import { format_count, format_time } from "@shared/format";
import { TimeChart } from "../chart";
import { use_overview, type overview } from "../live";
import { bytes_rate, ErrorBanner, rate, Stat } from "./common";

type points = [number, number][];
const series_names = ["records_in", "records_out", "bytes_in", "bytes_out"] as const;

// Rate history: loaded once from /api/history, then extended by each live overview.
function use_rate_history(o: overview | null) {
  const [history, set_history] = useState<Record<string, points>>({});
  useEffect(() => {
    get_json<{ series: Record<string, points> }>(`/api/history?series=${series_names.join(",")}`).then(
      (h) => set_history(h.series),
      () => undefined,
    );
  }, []);
  useEffect(() => {
    if (!o) return;
    set_history((h) => {
      const next: Record<string, points> = { ...h };
      for (const name of series_names) {
        const v = o.rates[name];
        if (v === null || v === undefined) continue;
        const old = next[name] ?? [];
        if (old.length && old[old.length - 1][0] >= o.time) continue;
        next[name] = [...old.slice(-899), [o.time, v]];
      }
      return next;
    });
  }, [o?.time]);
  return history;
}

export function OverviewPage(props: { scheduler_ui: string | null }) {
  const o = use_overview();
  const history = use_rate_history(o);
  if (!o) return <p class="muted">Loading the first sample…</p>;
  const c = o.cluster;
  return (
    <>
      <ErrorBanner error={o.cluster_error ? `Kafka at ${o.kafka}: ${o.cluster_error}` : null} />
      <section class="card">
        <div class="row">
          <h2 style="margin:0">Cluster</h2>
          <span class="muted mono" data-testid="cluster-id">
            {c ? c.id : "unreachable"}
          </span>
          <span class="spacer" />
          <span class="muted">
            <span class="live-dot" />
            updated {format_time(o.time)}
          </span>
        </div>
        <div class="grid" style="margin-top:12px">
          <Stat label="Brokers" value={c ? c.brokers.length : "–"} testid="stat-brokers" />
          <Stat label="Topics" value={c ? c.topics : "–"} testid="stat-topics" />
          <Stat label="Partitions" value={c ? c.partitions : "–"} />
          <Stat label="Records" value={c ? format_count(c.records) : "–"} />
          <Stat label="Records in" value={rate(o.rates.records_in)} testid="stat-records-in" />
          <Stat label="Records out" value={rate(o.rates.records_out)} />
          <Stat label="Bytes in" value={bytes_rate(o.rates.bytes_in)} />
          <Stat label="Bytes out" value={bytes_rate(o.rates.bytes_out)} />
        </div>
      </section>
      <div class="charts">
        <section class="card">
          <h2>Records per second</h2>
          <TimeChart
            testid="chart-records"
            unit="/s"
            series={[
              { label: "in", color: "#1f6feb", points: history.records_in ?? [] },
              { label: "out", color: "#1a7f37", points: history.records_out ?? [] },
            ]}
          />
        </section>
        <section class="card">
          <h2>Bytes per second</h2>
          <TimeChart
            testid="chart-bytes"
            series={[
              { label: "in", color: "#1f6feb", points: history.bytes_in ?? [] },
              { label: "out", color: "#1a7f37", points: history.bytes_out ?? [] },
            ]}
          />
        </section>
      </div>
      <section class="card">
        <h2>Components</h2>
        <table class="table" data-testid="components">
          <thead>
            <tr>
              <th>component</th>
              <th>plays</th>
              <th>state</th>
              <th>reason</th>
              <th>address</th>
            </tr>
          </thead>
          <tbody>
            {o.components.map((comp) => (
              <tr key={comp.name} data-testid={`component-${comp.name}`} data-state={comp.state}>
                <td>
                  <b>{comp.name}</b>
                </td>
                <td class="muted">{comp.plays}</td>
                <td>
                  <StateBadge state={comp.state} />
                </td>
                <td class="reason">{comp.reason}</td>
                <td class="mono">
                  {comp.name === "scheduler" && props.scheduler_ui ? (
                    <a href={props.scheduler_ui} target="_blank" rel="noopener">
                      {comp.address} ↗
                    </a>
                  ) : (
                    comp.address
                  )}
                  {comp.admin && <div class="muted">admin {comp.admin}</div>}
                  {comp.leader && <div class="muted" data-testid={`leader-${comp.name}`}>leader {comp.leader}</div>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </>
  );
}
