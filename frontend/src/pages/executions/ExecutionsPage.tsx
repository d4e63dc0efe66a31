import { Badge, Button, Group, Stack, Table, Text, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Fragment, useState } from "react";
import { api, type Schemas } from "../../api/client";
import { errorMessage, unwrap } from "../../api/errors";
import { can, useAuth } from "../../auth/AuthContext";
import { Empty, ErrorState, Loading } from "../../components/States";
import { useUrlFilters } from "../../components/useUrlFilters";
import { formatMoney } from "../../lib/money";
import { Approvals } from "./Approvals";
import { ExecutionStatus } from "./ExecutionGroup";

type Execution = Schemas["ExecutionRead"];

export function ExecutionsPage() {
  const filters = useUrlFilters();
  const status = filters.get("status");
  const list = useQuery({
    queryKey: ["executions", status],
    queryFn: () => unwrap(api.GET("/api/executions", { params: { query: { status: (status || undefined) as never } } })),
    refetchInterval: 5000,
  });
  const [open, setOpen] = useState<string | null>(null);
  return (
    <Stack>
      <Title order={2}>Executions</Title>
      {list.data && <Approvals executions={list.data.executions} />}
      {list.isPending ? (
        <Loading label="Loading executions" />
      ) : list.error ? (
        <ErrorState error={list.error} />
      ) : list.data.executions.length === 0 ? (
        <Empty>No executions yet. Execute a plan to see its per-account outcome here.</Empty>
      ) : (
        <Table.ScrollContainer minWidth={900}>
          <Table aria-label="Executions" withTableBorder verticalSpacing={4}>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Created</Table.Th>
                <Table.Th>Account</Table.Th>
                <Table.Th>Status</Table.Th>
                <Table.Th>Lines</Table.Th>
                <Table.Th>Error</Table.Th>
                <Table.Th>Actions</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {list.data.executions.map((e) => (
                <Fragment key={e.id}>
                  <Table.Tr>
                    <Table.Td style={{ whiteSpace: "nowrap" }}>{new Date(e.created_at).toLocaleString()}</Table.Td>
                    <Table.Td style={{ whiteSpace: "nowrap" }}>{e.account_name}</Table.Td>
                    <Table.Td>
                      <ExecutionStatus execution={e} />
                    </Table.Td>
                    <Table.Td>{e.lines.length}</Table.Td>
                    <Table.Td>
                      <Text size="xs">{e.error ?? "—"}</Text>
                    </Table.Td>
                    <Table.Td>
                      <Group gap={4} wrap="nowrap">
                        <Button size="compact-xs" variant="light" onClick={() => setOpen(open === e.id ? null : e.id)} aria-expanded={open === e.id} aria-label={`Lines of ${e.account_name}`}>
                          Lines
                        </Button>
                        {e.status === "partial" && <RetryButton execution={e} />}
                      </Group>
                    </Table.Td>
                  </Table.Tr>
                  {open === e.id && (
                    <Table.Tr>
                      <Table.Td colSpan={6}>
                        <Lines execution={e} />
                      </Table.Td>
                    </Table.Tr>
                  )}
                </Fragment>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
    </Stack>
  );
}

function RetryButton({ execution }: { execution: Execution }) {
  const { me } = useAuth();
  const queryClient = useQueryClient();
  const retry = useMutation({
    mutationFn: () => unwrap(api.POST("/api/executions/{execution_id}/retry", { params: { path: { execution_id: execution.id } } })),
    onSettled: () => void queryClient.invalidateQueries({ queryKey: ["executions"] }),
  });
  if (!can(me, "plans", "execute")) return null;
  return (
    <Button size="compact-xs" variant="light" color="orange" loading={retry.isPending} onClick={() => retry.mutate()} title={retry.error ? errorMessage(retry.error) : undefined}>
      Retry
    </Button>
  );
}

function Lines({ execution }: { execution: Execution }) {
  if (execution.lines.length === 0) return <Text size="sm" c="dimmed">No purchase lines.</Text>;
  return (
    <Table verticalSpacing={2} aria-label={`Purchase lines of ${execution.account_name}`}>
      <Table.Thead>
        <Table.Tr>
          <Table.Th>Service</Table.Th>
          <Table.Th>Region / type</Table.Th>
          <Table.Th ta="right">Count</Table.Th>
          <Table.Th ta="right">Upfront</Table.Th>
          <Table.Th ta="right">Monthly</Table.Th>
          <Table.Th>Status</Table.Th>
          <Table.Th>Reason</Table.Th>
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {execution.lines.map((line) => (
          <Table.Tr key={line.id}>
            <Table.Td>{line.service}</Table.Td>
            <Table.Td style={{ whiteSpace: "nowrap" }}>
              {line.region ?? "—"} · {line.resource_type ?? "—"}
            </Table.Td>
            <Table.Td ta="right">{line.count}</Table.Td>
            <Table.Td ta="right">{formatMoney(line.upfront_cost, line.currency ?? "USD")}</Table.Td>
            <Table.Td ta="right">{formatMoney(line.recurring_monthly_cost, line.currency ?? "USD")}</Table.Td>
            <Table.Td>
              <Badge variant="light">{line.status}</Badge>
            </Table.Td>
            <Table.Td>
              <Text size="xs">{line.error ?? line.reason ?? "—"}</Text>
            </Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}
