// What the console changes: produce a record, replay one, edit a topic's
// configs, check and register a schema. Each form shows the server's answer
// (where the record landed, the registry's verdict) or its error in words.
import { useEffect, useState } from "preact/hooks";
import { send_json } from "@shared/api";
import { ErrorBanner } from "./common";

export interface produced {
  topic: string;
  partition: number;
  offset: number;
}

// "name=value" per line; a line without "=" is a header with a null value.
function parse_headers(text: string): { key: string; value: string | null }[] {
  return text
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.length > 0)
    .map((line) => {
      const at = line.indexOf("=");
      return at < 0 ? { key: line, value: null } : { key: line.slice(0, at), value: line.slice(at + 1) };
    });
}

export function ProduceForm(props: { topic: string; partitions: number; on_produced?: (p: produced) => void }) {
  const [partition, set_partition] = useState("");
  const [key, set_key] = useState("");
  const [format, set_format] = useState("json");
  const [subject, set_subject] = useState(`${props.topic}-value`);
  const [value, set_value] = useState('{\n  "id": 1\n}');
  const [headers, set_headers] = useState("");
  const [result, set_result] = useState<produced | null>(null);
  const [error, set_error] = useState<string | null>(null);
  const [busy, set_busy] = useState(false);
  useEffect(() => set_subject(`${props.topic}-value`), [props.topic]);
  const submit = async (e: Event) => {
    e.preventDefault();
    set_error(null);
    set_result(null);
    let parsed: unknown = value;
    if (format !== "text") {
      try {
        parsed = JSON.parse(value);
      } catch (err) {
        set_error(`the value is not JSON: ${(err as Error).message}`);
        return;
      }
    }
    const body: Record<string, unknown> = { key: key === "" ? null : key, value: parsed, format, headers: parse_headers(headers) };
    if (partition !== "") body.partition = Number(partition);
    if (format === "avro") body.subject = subject;
    set_busy(true);
    try {
      const r = await send_json<produced>("POST", `/api/topics/${encodeURIComponent(props.topic)}/messages`, body);
      set_result(r);
      props.on_produced?.(r);
    } catch (err) {
      set_error(String((err as Error).message));
    } finally {
      set_busy(false);
    }
  };
  return (
    <form class="card form-grid" onSubmit={submit} data-testid="produce-form">
      <h2>Produce a message</h2>
      <div class="row">
        <label>
          partition
          <select value={partition} onChange={(e) => set_partition((e.target as HTMLSelectElement).value)} name="partition">
            <option value="">by key (partitioner)</option>
            {Array.from({ length: props.partitions }, (_, idx) => (
              <option key={idx} value={String(idx)}>
                {idx}
              </option>
            ))}
          </select>
        </label>
        <label>
          key
          <input value={key} onInput={(e) => set_key((e.target as HTMLInputElement).value)} name="key" placeholder="(none)" />
        </label>
        <label>
          format
          <select value={format} onChange={(e) => set_format((e.target as HTMLSelectElement).value)} name="format">
            <option value="json">JSON</option>
            <option value="text">text</option>
            <option value="avro">Avro (registry)</option>
          </select>
        </label>
        {format === "avro" && (
          <label>
            subject
            <input value={subject} onInput={(e) => set_subject((e.target as HTMLInputElement).value)} name="subject" />
          </label>
        )}
      </div>
      <label class="block">
        value
        <textarea rows={6} class="mono" value={value} onInput={(e) => set_value((e.target as HTMLTextAreaElement).value)} name="value" />
      </label>
      <label class="block">
        headers (one <code>name=value</code> per line)
        <textarea rows={2} class="mono" value={headers} onInput={(e) => set_headers((e.target as HTMLTextAreaElement).value)} name="headers" />
      </label>
      <div class="row">
        <button class="button primary" type="submit" disabled={busy} data-testid="produce-button">
          Produce
        </button>
        {result && (
          <span data-testid="produce-result">
            Stored in partition {result.partition} at offset {result.offset}.
          </span>
        )}
      </div>
      <ErrorBanner error={error} />
    </form>
  );
}

// Copies one stored record (key, value and headers, byte for byte) to a topic.
export function ReplayDialog(props: { source: { topic: string; partition: number; offset: number }; topics: string[]; on_close: () => void }) {
  const [target, set_target] = useState(props.source.topic);
  const [result, set_result] = useState<produced | null>(null);
  const [error, set_error] = useState<string | null>(null);
  const replay = async () => {
    set_error(null);
    try {
      set_result(await send_json<produced>("POST", `/api/topics/${encodeURIComponent(target)}/messages`, { replay: props.source }));
    } catch (err) {
      set_error(String((err as Error).message));
    }
  };
  return (
    <div class="dialog-backdrop" onKeyDown={(e) => e.key === "Escape" && props.on_close()}>
      <div class="dialog" role="dialog" aria-modal="true" aria-label="Replay a message">
        <h3>
          Replay {props.source.topic}-{props.source.partition} @ {props.source.offset}
        </h3>
        <label>
          to topic{" "}
          <select value={target} onChange={(e) => set_target((e.target as HTMLSelectElement).value)} name="replay-target">
            {props.topics.map((t) => (
              <option key={t} value={t}>
                {t}
              </option>
            ))}
          </select>
        </label>
        {result && (
          <p data-testid="replay-result">
            Replayed to {result.topic}-{result.partition} at offset {result.offset}.
          </p>
        )}
        <ErrorBanner error={error} />
        <div class="row">
          <span class="spacer" />
          <button class="button" onClick={props.on_close}>
            Close
          </button>
          <button class="button primary" onClick={replay} data-testid="replay-button">
            Replay
          </button>
        </div>
      </div>
    </div>
  );
}

interface config_row {
  name: string;
  value: string | null;
  default: boolean;
  read_only: boolean;
}

export function ConfigEditor(props: { topic: string; configs: config_row[]; on_changed: () => void }) {
  const [name, set_name] = useState("retention.ms");
  const [value, set_value] = useState("");
  const [message, set_message] = useState<string | null>(null);
  const [error, set_error] = useState<string | null>(null);
  const current = props.configs.find((c) => c.name === name);
  useEffect(() => set_value(current?.value ?? ""), [name]);
  const change = async (body: unknown, done: string) => {
    set_error(null);
    set_message(null);
    try {
      await send_json("POST", `/api/topics/${encodeURIComponent(props.topic)}/configs`, body);
      set_message(done);
      props.on_changed();
    } catch (err) {
      set_error(String((err as Error).message));
    }
  };
  return (
    <div data-testid="config-editor">
      <div class="row">
        <label>
          config
          <input list="topic-config-names" value={name} onInput={(e) => set_name((e.target as HTMLInputElement).value)} name="config-name" />
          <datalist id="topic-config-names">
            {props.configs.filter((c) => !c.read_only).map((c) => (
              <option key={c.name} value={c.name} />
            ))}
          </datalist>
        </label>
        <label>
          value
          <input value={value} onInput={(e) => set_value((e.target as HTMLInputElement).value)} name="config-value" />
        </label>
        <button class="button primary" onClick={() => change({ set: { [name]: value } }, `${name} set to ${value}.`)} data-testid="config-set">
          Set
        </button>
        <button class="button" disabled={!current || current.default} onClick={() => change({ delete: [name] }, `${name} reset to its default.`)} data-testid="config-reset">
          Reset to default
        </button>
        {message && <span data-testid="config-message">{message}</span>}
      </div>
      <ErrorBanner error={error} />
    </div>
  );
}

interface verdict {
  is_compatible: boolean;
  new_subject: boolean;
  messages: string[];
}

// Edit a schema, see the registry's compatibility verdict, then register it.
export function SchemaEditor(props: { subject: string; initial: string; on_registered: () => void }) {
  const [subject, set_subject] = useState(props.subject);
  const [text, set_text] = useState(props.initial);
  const [checked, set_checked] = useState<{ text: string; subject: string; verdict: verdict } | null>(null);
  const [message, set_message] = useState<string | null>(null);
  const [error, set_error] = useState<string | null>(null);
  useEffect(() => {
    set_subject(props.subject);
    set_text(props.initial);
    set_checked(null);
  }, [props.subject, props.initial]);
  const base = `/api/schemas/subjects/${encodeURIComponent(subject)}`;
  const check = async () => {
    set_error(null);
    set_message(null);
    try {
      set_checked({ text, subject, verdict: await send_json<verdict>("POST", `${base}/check`, { schema: text }) });
    } catch (err) {
      set_checked(null);
      set_error(String((err as Error).message));
    }
  };
  const register = async () => {
    set_error(null);
    try {
      const r = await send_json<{ id: number; version?: number }>("POST", `${base}/versions`, { schema: text });
      set_message(`Registered ${subject} version ${r.version ?? "?"} (schema id ${r.id}).`);
      set_checked(null);
      props.on_registered();
    } catch (err) {
      set_error(String((err as Error).message));
    }
  };
  const current = checked && checked.text === text && checked.subject === subject ? checked.verdict : null;
  return (
    <section class="card" data-testid="schema-editor">
      <h2>{props.subject ? "Evolve the schema" : "Register a schema"}</h2>
      <div class="row">
        <label>
          subject
          <input value={subject} onInput={(e) => set_subject((e.target as HTMLInputElement).value)} name="schema-subject" />
        </label>
      </div>
      <textarea rows={12} class="mono block" value={text} onInput={(e) => set_text((e.target as HTMLTextAreaElement).value)} name="schema-text" />
      <div class="row">
        <button class="button" onClick={check} disabled={!subject} data-testid="schema-check">
          Check compatibility
        </button>
        <button class="button primary" onClick={register} disabled={!current || !current.is_compatible} data-testid="schema-register"
          title={current ? "" : "check compatibility first"}>
          Register
        </button>
        {current && (
          <span data-testid="schema-verdict" class={current.is_compatible ? "ok" : "bad"}>
            {current.new_subject ? "New subject: nothing to be compatible with." : current.is_compatible ? "Compatible with the latest version." : "Not compatible:"}
          </span>
        )}
        {message && <span data-testid="schema-message">{message}</span>}
      </div>
      {current && !current.is_compatible && (
        <ul data-testid="schema-reasons">
          {current.messages.map((m, idx) => (
            <li key={idx} class="mono">
              {m}
            </li>
          ))}
        </ul>
      )}
      <ErrorBanner error={error} />
    </section>
  );
}
