import { format_count } from "@shared/format";
import { use_overview } from "../live";
import { rate } from "./common";

// Source to table as a left-to-right diagram; edges carry the live rates.
export function PipelinePage(props: { scheduler_ui: string | null }) {
  const o = use_overview();
  if (!o) return <p class="muted">Loading the first sample…</p>;
  const { nodes, edges } = o.pipeline;
  const w = 170, h = 74, gap = 62;
  const x = (idx: number) => 10 + idx * (w + gap);
  const index = new Map(nodes.map((n, idx) => [n.id, idx]));
  const href = (id: string) =>
    id === "kafka" ? `#/topics/${encodeURIComponent(nodes.find((n) => n.id === "kafka")?.detail.replace(/^topic /, "") ?? "")}` :
    id === "processor" ? `#/groups/${encodeURIComponent(nodes.find((n) => n.id === "processor")?.detail.replace(/^group /, "") ?? "")}` :
    id === "cql" ? "#/tables" :
    id === "scheduler" && props.scheduler_ui ? props.scheduler_ui : "#/overview";
  return (
    <section class="card pipeline">
      <h2>Pipeline</h2>
      <svg viewBox={`0 0 ${x(nodes.length) } 150`} data-testid="pipeline">
        <defs>
          <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
            <path d="M 0 0 L 10 5 L 0 10 z" fill="#8c959f" />
          </marker>
        </defs>
        {edges.map((e) => {
          const from = index.get(e.from) ?? 0, to = index.get(e.to) ?? 0;
          const x1 = x(from) + w, x2 = x(to);
          return (
            <g key={`${e.from}-${e.to}`} data-testid={`edge-${e.from}-${e.to}`}>
              <line x1={x1} y1={60} x2={x2 - 2} y2={60} stroke="#8c959f" stroke-width="1.5" marker-end="url(#arrow)" />
              <text class="edge-label" x={(x1 + x2) / 2} y={52} text-anchor="middle">
                {e.rate === null ? e.label : rate(e.rate)}
              </text>
            </g>
          );
        })}
        {nodes.map((n, idx) => (
          <a key={n.id} href={href(n.id)}>
            <g class={`node ${n.state}`} data-testid={`node-${n.id}`} data-state={n.state}>
              <rect x={x(idx)} y={23} width={w} height={h + 6} rx={6} />
              <circle cx={x(idx) + 12} cy={37} r={5} fill={n.state === "green" ? "#1a7f37" : n.state === "amber" ? "#b7791f" : n.state === "red" ? "#cf222e" : "#8c959f"} />
              <text x={x(idx) + 22} y={41} font-weight="600">
                {n.label}
              </text>
              <title>{`${n.label}: ${n.detail}`}</title>
              {/* The detail on two lines when long (a table name, a group id), never cut mid-box. */}
              {(n.detail.length > 26 ? [n.detail.slice(0, n.detail.lastIndexOf(".", 26) > 0 ? n.detail.lastIndexOf(".", 26) + 1 : 26), n.detail.slice(n.detail.lastIndexOf(".", 26) > 0 ? n.detail.lastIndexOf(".", 26) + 1 : 26)] : [n.detail]).map((line, li) => (
                <text key={li} x={x(idx) + 10} y={58 + li * 13} class="edge-label">
                  {line.length > 28 ? line.slice(0, 27) + "…" : line}
                </text>
              ))}
              <text x={x(idx) + 10} y={90} data-testid={`count-${n.id}`}>
                {n.count !== undefined && n.count !== null ? `${format_count(n.count)} ${n.id === "cql" || n.id === "postgres" ? "rows" : "records"}` : n.lag !== undefined && n.lag !== null ? `lag ${format_count(n.lag)}` : ""}
              </text>
            </g>
          </a>
        ))}
      </svg>
      <p class="muted">States and rates update every sample. Click a node for its page.</p>
    </section>
  );
}
