// @vitest-environment jsdom
import { afterEach, describe, expect, it, vi } from "vitest";
import { session } from "../api/client";
import { streamEvents } from "./sse";

afterEach(() => {
  vi.unstubAllGlobals();
  session.onUnauthorized(null);
  session.clear();
});

describe("streamEvents", () => {
  it("sends the session token and ends the session on a 401", async () => {
    session.set("tok-123");
    const fetch = vi.fn(async () => new Response(JSON.stringify({ error: "expired", code: "unauthorized" }), { status: 401 }));
    vi.stubGlobal("fetch", fetch);
    const expired = vi.fn();
    session.onUnauthorized(expired);
    await expect(streamEvents("/api/executions/g/events", () => undefined, new AbortController().signal)).rejects.toThrow("HTTP 401");
    expect(fetch).toHaveBeenCalledWith("/api/executions/g/events", expect.objectContaining({ headers: expect.objectContaining({ Authorization: "Bearer tok-123" }) }));
    expect(expired).toHaveBeenCalledOnce();
    expect(session.token()).toBeNull();
  });

  it("delivers each event as it is read, the last one without a trailing blank line", async () => {
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        const encoder = new TextEncoder();
        controller.enqueue(encoder.encode('event: execution\ndata: {"id":"a"}\n\nevent: exec'));
        controller.enqueue(encoder.encode('ution\ndata: {"id":"b"}\n\nevent: group\ndata: {"status":"completed"}'));
        controller.close();
      },
    });
    vi.stubGlobal("fetch", vi.fn(async () => new Response(body, { status: 200, headers: { "Content-Type": "text/event-stream" } })));
    const seen: string[] = [];
    await streamEvents("/x", (e) => seen.push(`${e.event}:${e.data}`), new AbortController().signal);
    expect(seen).toEqual(['execution:{"id":"a"}', 'execution:{"id":"b"}', 'group:{"status":"completed"}']);
  });
});
