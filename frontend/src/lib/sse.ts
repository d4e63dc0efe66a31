// Server-sent events over fetch: EventSource cannot send the Authorization header.
import { session } from "../api/client";

export interface StreamEvent {
  event: string;
  data: string;
}

/** Split an SSE text buffer into complete events and the unfinished rest. */
export function parseEvents(buffer: string): { events: StreamEvent[]; rest: string } {
  const events: StreamEvent[] = [];
  const blocks = buffer.replace(/\r\n/g, "\n").split("\n\n");
  const rest = blocks.pop() ?? "";
  for (const block of blocks) {
    let event = "message";
    const data: string[] = [];
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) continue;
      const [field, ...value] = line.split(":");
      const text = value.join(":").replace(/^ /, "");
      if (field === "event") event = text;
      else if (field === "data") data.push(text);
    }
    if (data.length) events.push({ event, data: data.join("\n") });
  }
  return { events, rest };
}

/** Read `path` as an event stream until it closes or `signal` aborts. */
export async function streamEvents(path: string, onEvent: (event: StreamEvent) => void, signal: AbortSignal): Promise<void> {
  const token = session.token();
  const response = await fetch(path, {
    headers: { Accept: "text/event-stream", ...(token ? { Authorization: `Bearer ${token}` } : {}) },
    signal,
  });
  // A 401 here ends the session like any other request's (SPEC §9: back to sign-in).
  if (response.status === 401) session.expired();
  if (!response.ok || !response.body) throw new Error(`event stream failed (HTTP ${response.status})`);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    const parsed = parseEvents(buffer + value);
    buffer = parsed.rest;
    parsed.events.forEach(onEvent);
  }
  parseEvents(`${buffer}\n\n`).events.forEach(onEvent);
}
