import { describe, expect, it } from "vitest";
import { applyGroupEvent, initialGroupState, lineCounts, type Execution } from "./groupStream";

function execution(id: string, status: Execution["status"], lines: Partial<Execution["lines"][number]>[] = []): Execution {
  return {
    id,
    execution_group_id: "g",
    plan_id: "p",
    cloud_account_id: `acct-${id}`,
    account_name: `account ${id}`,
    account_external_id: "123456789012",
    provider: "aws",
    triggered_by: null,
    status,
    dry_run: true,
    error: null,
    note: null,
    started_at: null,
    finished_at: null,
    created_at: "2026-12-01T00:00:00Z",
    lines: lines.map((line, i) => ({ id: `${id}-${i}`, status: "simulated", ...line }) as Execution["lines"][number]),
  };
}

describe("execution group stream", () => {
  it("replaces each account's row as its event arrives, then takes the summary", () => {
    let state = initialGroupState([execution("a", "pending"), execution("b", "pending")]);
    state = applyGroupEvent(state, { event: "execution", data: JSON.stringify({ ...execution("b", "failed"), error: "InvalidClientTokenId" }) });
    expect(state.executions.map((e) => e.status)).toEqual(["pending", "failed"]);
    expect(state.executions[1]?.error).toBe("InvalidClientTokenId");
    expect(state.arrived).toEqual(["b"]);
    expect(state.summary).toBeNull();

    state = applyGroupEvent(state, { event: "execution", data: JSON.stringify(execution("a", "completed", [{}, {}, { status: "skipped" }])) });
    state = applyGroupEvent(state, { event: "group", data: JSON.stringify({ execution_group_id: "g", status: "partial", executions: 2, completed: 1, partial: 0, failed: 1 }) });
    expect(state.executions.map((e) => e.status)).toEqual(["completed", "failed"]);
    expect(state.arrived).toEqual(["b", "a"]);
    expect(state.summary?.status).toBe("partial");
    expect(lineCounts(state.executions[0] as Execution)).toBe("2 simulated, 1 skipped");
    expect(lineCounts(state.executions[1] as Execution)).toBe("no lines");
  });

  it("adds an execution it did not know and ignores other events", () => {
    const state = applyGroupEvent(initialGroupState([]), { event: "execution", data: JSON.stringify(execution("c", "completed")) });
    expect(state.executions.map((e) => e.id)).toEqual(["c"]);
    expect(applyGroupEvent(state, { event: "message", data: "{}" })).toBe(state);
  });
});
