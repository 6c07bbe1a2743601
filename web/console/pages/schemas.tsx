import { useEffect, useState } from "preact/hooks";
import { use_json } from "../live";
import { ErrorBanner } from "./common";
import { SchemaEditor } from "./operate";

interface subject_row {
  subject: string;
  versions?: number[];
  latest?: number;
  id?: number;
  type?: string;
  compatibility?: string;
}

interface subject_detail {
  subject: string;
  versions: number[];
  compatibility?: string;
  schema: { subject: string; version: number; id: number; schema: string; schemaType?: string };
}

function pretty(schema: string): string {
  try {
    return JSON.stringify(JSON.parse(schema), null, 2);
  } catch {
    return schema;
  }
}

// A line diff (longest common subsequence), small schemas only.
function diff_lines(a: string[], b: string[]): { kind: " " | "+" | "-"; text: string }[] {
  const n = a.length, m = b.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--) for (let j = m - 1; j >= 0; j--) lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
  const out: { kind: " " | "+" | "-"; text: string }[] = [];
  let i = 0, j = 0;
  while (i < n && j < m) {
    if (a[i] === b[j]) (out.push({ kind: " ", text: a[i] }), i++, j++);
    else if (lcs[i + 1][j] >= lcs[i][j + 1]) out.push({ kind: "-", text: a[i++] });
    else out.push({ kind: "+", text: b[j++] });
  }
  while (i < n) out.push({ kind: "-", text: a[i++] });
  while (j < m) out.push({ kind: "+", text: b[j++] });
  return out;
}

function Subject(props: { subject: string; on_registered: () => void }) {
  const [version, set_version] = useState("latest");
  const [against, set_against] = useState("");
  const { data, error, reload } = use_json<subject_detail>(`/api/schemas/subjects/${encodeURIComponent(props.subject)}/versions/${version}`);
  const other = use_json<subject_detail>(against ? `/api/schemas/subjects/${encodeURIComponent(props.subject)}/versions/${against}` : null);
  useEffect(() => set_against(""), [props.subject]);
  return (
    <section class="card">
      <ErrorBanner error={error} />
      {data && (
        <>
          <div class="row">
            <h2 style="margin:0">{props.subject}</h2>
            <span class="pill">id {data.schema.id}</span>
            <span class="pill">{data.schema.schemaType ?? "AVRO"}</span>
            <span class="pill">compatibility {data.compatibility ?? "–"}</span>
            <span class="spacer" />
            <label>
              version
              <select value={version} onChange={(e) => set_version((e.target as HTMLSelectElement).value)}>
                <option value="latest">latest</option>
                {data.versions.map((v) => (
                  <option key={v} value={String(v)}>
                    {v}
                  </option>
                ))}
              </select>
            </label>
            <label>
              diff against
              <select value={against} onChange={(e) => set_against((e.target as HTMLSelectElement).value)}>
                <option value="">–</option>
                {data.versions.map((v) => (
                  <option key={v} value={String(v)}>
                    {v}
                  </option>
                ))}
              </select>
            </label>
          </div>
          {against && other.data ? (
            <pre data-testid="schema-diff">
              {diff_lines(pretty(other.data.schema.schema).split("\n"), pretty(data.schema.schema).split("\n")).map((l, idx) => (
                <span key={idx} class={l.kind === "+" ? "diff-add" : l.kind === "-" ? "diff-del" : ""}>
                  {l.kind} {l.text}
                  {"\n"}
                </span>
              ))}
            </pre>
          ) : (
            <pre data-testid="schema-text">{pretty(data.schema.schema)}</pre>
          )}
        </>
      )}
      {data && (
        <SchemaEditor subject={props.subject} initial={pretty(data.schema.schema)} on_registered={() => (reload(), props.on_registered())} />
      )}
    </section>
  );
}

export function SchemasPage(props: { subject: string }) {
  const { data, error, reload } = use_json<{ registry: string; compatibility: string; subjects: subject_row[] }>("/api/schemas");
  return (
    <>
      <ErrorBanner error={error} />
      {data && (
        <section class="card">
          <div class="row">
            <h2 style="margin:0">Subjects</h2>
            <span class="muted">registry {data.registry} · global compatibility {data.compatibility || "–"}</span>
          </div>
          <table class="table" data-testid="subjects">
            <thead>
              <tr>
                <th>subject</th>
                <th class="num">latest version</th>
                <th class="num">schema id</th>
                <th>type</th>
                <th>compatibility</th>
              </tr>
            </thead>
            <tbody>
              {data.subjects.map((s) => (
                <tr key={s.subject}>
                  <td>
                    <a href={`#/schemas/${encodeURIComponent(s.subject)}`}>{s.subject}</a>
                  </td>
                  <td class="num">{s.latest ?? "–"}</td>
                  <td class="num">{s.id ?? "–"}</td>
                  <td>{s.type ?? "–"}</td>
                  <td>{s.compatibility || <span class="muted">global</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {data.subjects.length === 0 && <p class="muted">No subjects registered.</p>}
        </section>
      )}
      {props.subject ? (
        <Subject subject={props.subject} on_registered={reload} />
      ) : (
        <SchemaEditor subject="" initial={'{\n  "type": "record",\n  "name": "example",\n  "fields": [{"name": "id", "type": "long"}]\n}'} on_registered={reload} />
      )}
    </>
  );
}
