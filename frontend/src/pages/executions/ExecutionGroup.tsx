import { Badge, Stack, Table, Text } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { api } from "../../api/client";
import { unwrap } from "../../api/errors";
import { ErrorState, Loading } from "../../components/States";

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

const ACTIVE = new Set(["pending", "running"]);

/** Per-account progress and outcome of one execution group, polled until every account is done. */
export function ExecutionGroup({ groupId }: { groupId: string }) {
  const executions = useQuery({
    queryKey: ["executions", "group", groupId],
    queryFn: () => unwrap(api.GET("/api/executions", { params: { query: { group_id: groupId } } })),
    refetchInterval: (query) => (query.state.data?.executions.some((e) => ACTIVE.has(e.status)) ?? true ? 1000 : false),
  });
  if (executions.isPending) return <Loading label="Loading executions" />;
  if (executions.error) return <ErrorState error={executions.error} />;
  const rows = executions.data.executions;
  const done = rows.filter((e) => !ACTIVE.has(e.status)).length;
  return (
    <Stack gap="xs" role="region" aria-label="Execution progress">
      <Text size="sm" fw={600} role="status">
        {done} of {rows.length} accounts finished
      </Text>
      <Table withTableBorder verticalSpacing={2} aria-label="Execution outcome per account">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Account</Table.Th>
            <Table.Th>Status</Table.Th>
            <Table.Th>Lines</Table.Th>
            <Table.Th>Error</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {rows.map((e) => (
            <Table.Tr key={e.id}>
              <Table.Td>{e.account_name}</Table.Td>
              <Table.Td>
                <Badge color={EXECUTION_COLOR[e.status] ?? "gray"} variant="light">
                  {e.status}
                </Badge>
                {e.dry_run && (
                  <Badge color="grape" variant="outline" size="xs" ml={4}>
                    dry run
                  </Badge>
                )}
              </Table.Td>
              <Table.Td>{e.lines.length}</Table.Td>
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
