import { Alert, Anchor, Badge, Group, Progress, Stack, Table, Text } from "@mantine/core";
import { useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { Link } from "react-router-dom";
import { api } from "../../api/client";
import { errorMessage } from "../../api/errors";
import { formatMoney, totalsByCurrency } from "../../lib/money";
import { streamEvents } from "../../lib/sse";
import { ACTIVE, applyGroupEvent, initialGroupState, lineCounts, type Execution, type GroupState } from "./groupStream";

export const EXECUTION_COLOR: Record<string, string> = {
  completed: "green",
  failed: "red",
  partial: "orange",
  running: "blue",
  pending: "gray",
  awaiting_approval: "yellow",
  rejected: "gray",
  expired: "gray",
};

const COUNTED = new Set(["simulated", "purchased"]);
const NOWRAP = { whiteSpace: "nowrap" } as const;

/** An execution's status (and "dry run"), on one line and never cut off. */
export function ExecutionStatus({ execution }: { execution: Pick<Execution, "status" | "dry_run"> }) {
  return (
    <Group gap={4} wrap="nowrap">
      <Badge color={EXECUTION_COLOR[execution.status] ?? "gray"} variant="light">
        {execution.status.replace(/_/g, " ")}
      </Badge>
      {execution.dry_run && (
        <Badge color="grape" variant="outline" size="xs">
          dry run
        </Badge>
      )}
    </Group>
  );
}

function savings(execution: Execution): string {
  const lines = execution.lines.filter((l) => COUNTED.has(l.status) && l.estimated_monthly_savings !== null);
  const totals = Object.entries(totalsByCurrency(lines, (l) => l.estimated_monthly_savings ?? "0", (l) => l.currency ?? "USD"));
  return totals.length ? totals.map(([currency, amount]) => formatMoney(amount, currency)).join(" · ") : "—";
}

/** Per-account progress and outcome of one execution group, live from the group's event
 *  stream (each account's row changes as its `execution` event arrives). */
export function ExecutionGroup({ groupId, executions }: { groupId: string; executions: Execution[] }) {
  const queryClient = useQueryClient();
  const [state, setState] = useState<GroupState>(() => initialGroupState(executions));
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    const abort = new AbortController();
    let current = initialGroupState(executions);
    streamEvents(
      `/api/executions/${groupId}/events`,
      (event) => {
        current = applyGroupEvent(current, event);
        setState(current);
        if (current.summary) void queryClient.invalidateQueries({ queryKey: ["executions"] });
        // A group waiting for a second person's approval ends only after that: stop here.
        else if (current.executions.every((e) => e.status === "awaiting_approval")) abort.abort();
      },
      abort.signal,
    ).catch(async (e: unknown) => {
      if (abort.signal.aborted) return;
      setError(`Live progress stopped: ${errorMessage(e)}`);
      // Show the latest state once instead.
      const { data } = await api.GET("/api/executions", { params: { query: { group_id: groupId } } });
      if (data && !abort.signal.aborted) setState((old) => ({ ...old, executions: data.executions }));
    });
    return () => abort.abort();
    // `executions` is the execute call's answer: fixed for this group.
  }, [groupId, queryClient]);

  const rows = state.executions;
  const done = rows.filter((e) => !ACTIVE.has(e.status)).length;
  const failed = rows.filter((e) => e.status === "failed").length;
  const awaiting = rows.some((e) => e.status === "awaiting_approval");
  const running = state.summary === null && !error && !awaiting;
  return (
    <Stack gap="xs" role="region" aria-label="Execution progress">
      <Group justify="space-between">
        <Text size="sm" fw={600} role="status">
          {done} of {rows.length} accounts finished
          {state.summary ? ` — group ${state.summary.status}` : awaiting ? " — awaiting approval" : ""}
          {failed ? `, ${failed} failed` : ""}
        </Text>
      </Group>
      <Progress value={rows.length ? (done / rows.length) * 100 : 100} color={failed ? "orange" : "teal"} animated={running} aria-label="Accounts finished" />
      {error && (
        <Alert color="red" role="alert">
          {error}
        </Alert>
      )}
      {awaiting && (
        <Alert color="yellow" title="Awaiting approval">
          Nothing is bought until a second person with the approve permission approves it on the{" "}
          <Anchor component={Link} to="/executions">
            Executions
          </Anchor>{" "}
          page.
        </Alert>
      )}
      <Table withTableBorder verticalSpacing={2} aria-label="Execution outcome per account">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Account</Table.Th>
            <Table.Th>Status</Table.Th>
            <Table.Th>Lines</Table.Th>
            <Table.Th ta="right" style={NOWRAP}>
              Est. savings / month
            </Table.Th>
            <Table.Th>Error / note</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {rows.map((e) => (
            <Table.Tr key={e.id} aria-label={e.account_name} data-arrived={state.arrived.includes(e.id) ? "live" : undefined}>
              <Table.Td style={NOWRAP}>
                <Text size="sm">{e.account_name}</Text>
                <Text size="xs" c="dimmed">
                  {e.account_external_id}
                </Text>
              </Table.Td>
              <Table.Td>
                <ExecutionStatus execution={e} />
              </Table.Td>
              <Table.Td style={NOWRAP}>
                <Text size="xs">{ACTIVE.has(e.status) ? "…" : lineCounts(e)}</Text>
              </Table.Td>
              <Table.Td ta="right" style={NOWRAP}>
                <Text size="sm">{savings(e)}</Text>
              </Table.Td>
              <Table.Td>
                <Text size="xs" style={{ wordBreak: "break-word" }}>
                  {e.error ?? e.note ?? "—"}
                </Text>
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Stack>
  );
}
