// Small pieces the console's pages share.
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { format_count } from "@shared/format";

export function rate(v: number | null | undefined, unit = "/s"): string {
  if (v === null || v === undefined) return "–";
  return (v >= 100 ? format_count(v) : v.toFixed(v >= 10 ? 0 : 1)) + unit;
}

export function bytes_rate(v: number | null | undefined): string {
  if (v === null || v === undefined) return "–";
  const units = ["B/s", "KiB/s", "MiB/s", "GiB/s"];
  let unit = 0;
  while (v >= 1024 && unit < units.length - 1) {
    v /= 1024;
    unit++;
  }
  return `${v.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

export function ErrorBanner(props: { error: string | null | undefined }) {
  if (!props.error) return null;
  return (
    <div class="error-banner" role="alert" data-testid="error">
      {props.error}
    </div>
  );
}

export function JsonCell(props: { value: unknown; format?: string }) {
  const { value, format } = props;
  if (value === null || value === undefined) return <span class="muted">null</span>;
  if (typeof value !== "object") {
    const text = String(value);
    if (text.length <= 80 && !text.includes("\n")) return <span class="mono">{text}</span>;
    return (
      <details class="json-cell">
        <summary>{text.slice(0, 80)}…</summary>
        <pre>{text}</pre>
      </details>
    );
  }
  const compact = JSON.stringify(value);
  return (
    <details class="json-cell">
      <summary title={format}>{compact.length > 100 ? compact.slice(0, 100) + "…" : compact}</summary>
      <pre>{JSON.stringify(value, null, 2)}</pre>
    </details>
  );
}

// A confirmation dialog: the action runs only after the user types `word`
// (when given) and presses the button.
export function Confirm(props: {
  title: string;
  children: ComponentChildren;
  word?: string;
  action: string;
  danger?: boolean;
  on_confirm: () => void;
  on_cancel: () => void;
}) {
  const [typed, set_typed] = useState("");
  const ok = !props.word || typed === props.word;
  return (
    <div class="dialog-backdrop" onKeyDown={(e) => e.key === "Escape" && props.on_cancel()}>
      <div class="dialog" role="dialog" aria-modal="true" aria-label={props.title}>
        <h3>{props.title}</h3>
        {props.children}
        {props.word && (
          <p>
            Type <code>{props.word}</code> to confirm:{" "}
            <input autoFocus value={typed} onInput={(e) => set_typed((e.target as HTMLInputElement).value)} data-testid="confirm-input" />
          </p>
        )}
        <div class="row">
          <span class="spacer" />
          <button class="button" onClick={props.on_cancel}>
            Cancel
          </button>
          <button class={props.danger ? "button danger" : "button primary"} disabled={!ok} onClick={props.on_confirm} data-testid="confirm-button">
            {props.action}
          </button>
        </div>
      </div>
    </div>
  );
}

export function Stat(props: { label: string; value: ComponentChildren; testid?: string }) {
  return (
    <div>
      <div class="stat-label">{props.label}</div>
      <div class="stat" data-testid={props.testid}>
        {props.value}
      </div>
    </div>
  );
}
