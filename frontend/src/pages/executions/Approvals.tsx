import { Alert, Badge, Button, Card, Group, Stack, Table, Text, Title, Tooltip } from "@mantine/core";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api, type Schemas } from "../../api/client";
import { errorMessage, unwrap } from "../../api/errors";
import { can, useAuth } from "../../auth/AuthContext";
import { formatMoney, totalsByCurrency } from "../../lib/money";

type Execution = Schemas["ExecutionRead"];

/** Execution groups waiting for a second person's approval, with exactly what they will buy. */
export function Approvals({ executions }: { executions: Execution[] }) {
  const groups = new Map<string, Execution[]>();
  for (const e of executions.filter((x) => x.status === "awaiting_approval")) {
    groups.set(e.execution_group_id, [...(groups.get(e.execution_group_id) ?? []), e]);
  }
  if (groups.size === 0) return null;
  return (
    <Stack gap="sm">
      <Title order={3}>Awaiting approval</Title>
      {[...groups.entries()].map(([groupId, members]) => (
        <ApprovalCard key={groupId} groupId={groupId} executions={members} />
      ))}
    </Stack>
  );
}

function ApprovalCard({ groupId, executions }: { groupId: string; executions: Execution[] }) {
  const { me } = useAuth();
  const queryClient = useQueryClient();
  const lines = executions.flatMap((e) => e.lines.map((line) => ({ ...line, account_name: e.account_name })));
  const upfront = totalsByCurrency(lines, (l) => l.upfront_cost ?? "0", (l) => l.currency ?? "USD");
  const monthly = totalsByCurrency(lines, (l) => l.recurring_monthly_cost ?? "0", (l) => l.currency ?? "USD");
  const ownTrigger = executions.some((e) => e.triggered_by !== null && e.triggered_by === me?.id);
  const done = () => void queryClient.invalidateQueries({ queryKey: ["executions"] });
  const approve = useMutation({
    mutationFn: () => unwrap(api.POST("/api/executions/{group_id}/approve", { params: { path: { group_id: groupId } } })),
    onSuccess: done,
  });
  const reject = useMutation({
    mutationFn: () => unwrap(api.POST("/api/executions/{group_id}/reject", { params: { path: { group_id: groupId } }, body: null })),
    onSuccess: done,
  });
  const mayApprove = can(me, "plans", "approve");
  const money = (totals: Record<string, string>) => Object.entries(totals).map(([c, v]) => formatMoney(v, c)).join(" · ") || formatMoney("0");
  return (
    <Card withBorder padding="md" component="section" aria-label={`Approval of group ${groupId}`}>
      <Group justify="space-between" mb="xs">
        <Text fw={600}>
          {executions.length} account{executions.length === 1 ? "" : "s"} · {lines.length} purchase line{lines.length === 1 ? "" : "s"}
        </Text>
        <Badge color="yellow">awaiting approval</Badge>
      </Group>
      <Text size="sm" mb="xs" aria-label="Approval totals">
        Upfront {money(upfront)} · monthly {money(monthly)}
      </Text>
      <Table withTableBorder verticalSpacing={2} aria-label="Lines to approve">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Account</Table.Th>
            <Table.Th>Service</Table.Th>
            <Table.Th>Region / type</Table.Th>
            <Table.Th ta="right">Count</Table.Th>
            <Table.Th ta="right">Upfront</Table.Th>
            <Table.Th ta="right">Monthly</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {lines.map((line) => (
            <Table.Tr key={line.id}>
              <Table.Td>{line.account_name}</Table.Td>
              <Table.Td>{line.service}</Table.Td>
              <Table.Td>
                {line.region ?? "—"} · {line.resource_type ?? "—"}
              </Table.Td>
              <Table.Td ta="right">{line.count}</Table.Td>
              <Table.Td ta="right">{formatMoney(line.upfront_cost, line.currency ?? "USD")}</Table.Td>
              <Table.Td ta="right">{formatMoney(line.recurring_monthly_cost, line.currency ?? "USD")}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {(approve.error || reject.error) && (
        <Alert color="red" role="alert" mt="xs">
          {errorMessage(approve.error ?? reject.error)}
        </Alert>
      )}
      {mayApprove && (
        <Group justify="flex-end" mt="sm">
          {ownTrigger && (
            <Text size="xs" c="dimmed">
              You triggered this execution: someone else must approve it.
            </Text>
          )}
          <Tooltip label="Four eyes: not by the user who triggered it" disabled={!ownTrigger}>
            <Button color="red" variant="light" disabled={ownTrigger} loading={reject.isPending} onClick={() => reject.mutate()}>
              Reject
            </Button>
          </Tooltip>
          <Button color="green" disabled={ownTrigger} loading={approve.isPending} onClick={() => approve.mutate()}>
            Approve
          </Button>
        </Group>
      )}
    </Card>
  );
}
