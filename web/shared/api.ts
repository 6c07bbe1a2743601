// JSON over HTTP for the UIs: one error type carrying the status and the
// server's message (problem+json "detail"/"title", or {"message"}, or text).
export class api_error extends Error {
  constructor(public status: number, message: string) {
    super(message);
  }
}

export async function get_json<T>(url: string, init?: RequestInit): Promise<T> {
  const response = await fetch(url, { headers: { Accept: "application/json" }, ...init });
  const text = await response.text();
  if (!response.ok) {
    let message = text || response.statusText;
    try {
      const body = JSON.parse(text);
      message = body.detail ?? body.message ?? body.title ?? message;
    } catch {
      /* not JSON: keep the text */
    }
    throw new api_error(response.status, `${response.status}: ${message}`);
  }
  return (text ? JSON.parse(text) : undefined) as T;
}

export function send_json<T>(method: string, url: string, body?: unknown): Promise<T> {
  return get_json<T>(url, {
    method,
    headers: { Accept: "application/json", "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}
