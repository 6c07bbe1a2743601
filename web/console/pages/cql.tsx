// The CQL page: run a SELECT against the CQL store, page through the rows and
// export every page as CSV (POST /api/cql).
import { useState } from "preact/hooks";
import { send_json } from "@shared/api";
import { ErrorBanner, JsonCell } from "./common";

interface cql_page {
  columns: { name: string; type: string }[];
  rows: unknown[][];
  paging_state: string | null;
}

export function CqlPage(props: { table: string }) {
  const [query, set_query] = useState(`SELECT * FROM ${props.table || "system.local"}`);
  const [page_size, set_page_size] = useState("50");
  // The paging states of the pages shown so far ("" = the first page).
  const [states, set_states] = useState<string[]>([]);
  const [page, set_page] = useState<cql_page | null>(null);
  const [ran, set_ran] = useState("");
  const [error, set_error] = useState<string | null>(null);
  const [busy, set_busy] = useState(false);

  const run = async (text: string, stack: string[]) => {
    set_busy(true);
    set_error(null);
    try {
      const state = stack[stack.length - 1];
      const body: Record<string, unknown> = { query: text, page_size: Number(page_size) || 50 };
      if (state) body.paging_state = state;
      set_page(await send_json<cql_page>("POST", "/api/cql", body));
      set_states(stack);
      set_ran(text);
    } catch (err) {
      set_error(String((err as Error).message));
    } finally {
      set_busy(false);
    }
  };
  const export_csv = async () => {
    set_error(null);
    const res = await fetch("/api/cql", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "text/csv" },
      body: JSON.stringify({ query: ran || query, format: "csv" }),
    });
    if (!res.ok) {
      const text = await res.text();
      let message = text;
      try {
        message = JSON.parse(text).error ?? text;
      } catch {
        /* text */
      }
      set_error(`${res.status}: ${message}`);
      return;
    }
    const url = URL.createObjectURL(await res.blob());
    const link = document.createElement("a");
    link.href = url;
    link.download = "query.csv";
    link.click();
    URL.revokeObjectURL(url);
  };
  return (
    <>
      <form
        class="card"
        onSubmit={(e) => {
          e.preventDefault();
          run(query, [""]);
        }}
      >
        <h2>CQL</h2>
        <textarea rows={4} class="mono block" value={query} onInput={(e) => set_query((e.target as HTMLTextAreaElement).value)} name="cql" />
        <div class="row">
          <button class="button primary" type="submit" disabled={busy} data-testid="cql-run">
            Run
          </button>
          <label>
            rows per page
            <input size={5} value={page_size} onInput={(e) => set_page_size((e.target as HTMLInputElement).value)} name="page-size" />
          </label>
          <span class="spacer" />
          <button class="button" type="button" onClick={export_csv} disabled={!ran} data-testid="cql-csv">
            Export CSV
          </button>
        </div>
        <p class="muted">SELECT statements only; every page of the result goes into the CSV.</p>
      </form>
      <ErrorBanner error={error} />
      {page && (
        <section class="card">
          <div class="row">
            <span class="muted">
              page {states.length} · {page.rows.length} rows
            </span>
            <span class="spacer" />
            <button class="button" disabled={states.length <= 1 || busy} onClick={() => run(ran, states.slice(0, -1))}>
              ← Previous
            </button>
            <button class="button" disabled={!page.paging_state || busy} onClick={() => page.paging_state && run(ran, [...states, page.paging_state])}
              data-testid="cql-next">
              Next →
            </button>
          </div>
          <div class="table-scroll">
            <table class="table" data-testid="cql-rows">
              <thead>
                <tr>
                  {page.columns.map((c) => (
                    <th key={c.name} title={c.type}>
                      {c.name}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {page.rows.map((row, idx) => (
                  <tr key={idx} data-testid="cql-row">
                    {row.map((cell, col) => (
                      <td key={col}>
                        <JsonCell value={cell} />
                      </td>
                    ))}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {page.rows.length === 0 && <p class="muted">No rows.</p>}
        </section>
      )}
    </>
  );
}
