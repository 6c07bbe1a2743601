import { useState } from "preact/hooks";
import { use_json } from "../live";
import { format_count } from "@shared/format";
import { ErrorBanner, JsonCell } from "./common";

interface rows_page {
  keyspace: string;
  table: string;
  columns: { name: string; type: string; kind?: string }[];
  rows: Record<string, unknown>[];
  paging_state: string | null;
}

function Rows(props: { keyspace: string; table: string }) {
  const [pages, set_pages] = useState<string[]>([""]);
  const current = pages[pages.length - 1];
  const url = `/api/tables/${encodeURIComponent(props.keyspace)}/${encodeURIComponent(props.table)}/rows?page_size=25${current ? `&paging_state=${encodeURIComponent(current)}` : ""}`;
  const { data, error } = use_json<rows_page>(url);
  return (
    <section class="card">
      <div class="row">
        <h2 style="margin:0">
          {props.keyspace}.{props.table}
        </h2>
        <span class="muted">page {pages.length}</span>
        <span class="spacer" />
        <button class="button" disabled={pages.length <= 1} onClick={() => set_pages(pages.slice(0, -1))}>
          ← Previous
        </button>
        <button class="button" disabled={!data?.paging_state} onClick={() => data?.paging_state && set_pages([...pages, data.paging_state])} data-testid="next-page">
          Next →
        </button>
      </div>
      <ErrorBanner error={error} />
      {data && (
        <div class="table-scroll">
        <table class="table" data-testid="rows">
          <thead>
            <tr>
              {data.columns.map((c) => (
                <th key={c.name} title={c.type}>
                  {c.name}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {data.rows.map((row, idx) => (
              <tr key={idx} data-testid="row">
                {data.columns.map((c) => (
                  <td key={c.name}>
                    <JsonCell value={row[c.name]} />
                  </td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
        </div>
      )}
    </section>
  );
}

export function TablesPage(props: { path: string[] }) {
  const { data, error } = use_json<{ keyspaces: { name: string; tables: string[]; rows?: Record<string, number> }[]; default_table?: string }>("/api/tables");
  const [keyspace, table] = props.path;
  return (
    <>
      <ErrorBanner error={error} />
      {data && (
        <section class="card">
          <h2>Keyspaces</h2>
          {data.keyspaces.map((k) => (
            <div key={k.name} style="margin-bottom:8px">
              <b>{k.name}</b>{" "}
              {k.tables.map((t) => (
                <a class="pill" key={t} href={`#/tables/${encodeURIComponent(k.name)}/${encodeURIComponent(t)}`} data-testid={`table-${k.name}.${t}`}>
                  {t}
                  {k.rows?.[t] !== undefined && <span class="muted"> · {format_count(k.rows[t])} rows</span>}
                </a>
              ))}
            </div>
          ))}
        </section>
      )}
      {keyspace && table && <Rows keyspace={keyspace} table={table} />}
    </>
  );
}
