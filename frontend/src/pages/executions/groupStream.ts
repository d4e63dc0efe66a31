// The state of one execution group as read from `GET /api/executions/{group_id}/events`:
// an `execution` event per finished (or approval-waiting) execution, then one `group` event.
import type { Schemas } from "../../api/client";
import type { StreamEvent } from "../../lib/sse";

export type Execution = Schemas["ExecutionRead"];
/** The final `group` event (api/purchases/schemas.py GroupSummary; the stream has no OpenAPI schema). */
export interface GroupSummary {
  execution_group_id: string;
  status: string;
  executions: number;
  completed: number;
  partial: number;
  failed: number;
}

export interface GroupState {
  /** In the order the execute call answered; a row is replaced when its event arrives. */
  executions: Execution[];
  /** Ids whose outcome came from the stream. */
  arrived: string[];
  summary: GroupSummary | null;
}

export const ACTIVE = new Set(["pending", "running"]);

export function initialGroupState(executions: Execution[]): GroupState {
  return { executions, arrived: [], summary: null };
}

/** Fold one stream event into the state (unknown events are ignored). */
export function applyGroupEvent(state: GroupState, event: StreamEvent): GroupState {
  if (event.event === "execution") {
    const row = JSON.parse(event.data) as Execution;
    const known = state.executions.some((e) => e.id === row.id);
    return {
      ...state,
      executions: known ? state.executions.map((e) => (e.id === row.id ? row : e)) : [...state.executions, row],
      arrived: state.arrived.includes(row.id) ? state.arrived : [...state.arrived, row.id],
    };
  }
  if (event.event === "group") return { ...state, summary: JSON.parse(event.data) as GroupSummary };
  return state;
}

/** "3 simulated, 1 skipped" — the lines of one execution by status. */
export function lineCounts(execution: Execution): string {
  const counts = new Map<string, number>();
  for (const line of execution.lines) counts.set(line.status, (counts.get(line.status) ?? 0) + 1);
  if (counts.size === 0) return "no lines";
  return [...counts.entries()].map(([status, n]) => `${n} ${status}`).join(", ");
}
