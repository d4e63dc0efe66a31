import { Badge, Group, Select, Stack, Table, Text, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { api, type Provider, type Schemas } from "../../api/client";
import { unwrap } from "../../api/errors";
import { AccountFilter, ProviderFilter } from "../../components/AccountFilter";
import { Empty, ErrorState, Loading } from "../../components/States";
import { accountIdsParam, useUrlFilters } from "../../components/useUrlFilters";
import { formatMoney, formatPercent } from "../../lib/money";

const DAY = 24 * 3600 * 1000;

export function daysLeft(end: string | null, now = Date.now()): number | null {
  return end ? Math.ceil((new Date(end).getTime() - now) / DAY) : null;
}

export function CommitmentsPage() {
  const filters = useUrlFilters();
  const provider = filters.get("provider");
  const accountIds = filters.getList("account");
  const expiring = filters.get("expiring");
  const query = {
    provider: (provider || undefined) as Provider | undefined,
    account_ids: accountIdsParam(accountIds),
    expiring_within_days: expiring ? Number(expiring) : undefined,
    limit: 200,
  };
  const list = useQuery({ queryKey: ["commitments", query], queryFn: () => unwrap(api.GET("/api/commitments", { params: { query: query as never } })) as Promise<Schemas["CommitmentList"]> });
  return (
    <Stack>
      <Title order={2}>Commitments</Title>
      <Group align="flex-end" role="search" aria-label="Commitment filters">
        <ProviderFilter value={provider} onChange={(value) => filters.set({ provider: value })} />
        <AccountFilter provider={provider} value={accountIds} onChange={(ids) => filters.set({ account: ids })} />
        <Select label="Expiring within" placeholder="any time" clearable w={160} value={expiring || null} onChange={(v) => filters.set({ expiring: v })} data={[{ value: "30", label: "30 days" }, { value: "90", label: "90 days" }, { value: "180", label: "180 days" }]} />
      </Group>
      {list.isPending ? (
        <Loading label="Loading commitments" />
      ) : list.error ? (
        <ErrorState error={list.error} />
      ) : list.data.commitments.length === 0 ? (
        <Empty>No commitments in the inventory. It fills as collections run.</Empty>
      ) : (
        <Table.ScrollContainer minWidth={1000}>
          <Table aria-label="Commitments" striped withTableBorder verticalSpacing={4}>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Account</Table.Th>
                <Table.Th>Service</Table.Th>
                <Table.Th>Region / type</Table.Th>
                <Table.Th ta="right">Count</Table.Th>
                <Table.Th>Term</Table.Th>
                <Table.Th>Ends</Table.Th>
                <Table.Th ta="right">Monthly</Table.Th>
                <Table.Th ta="right">Utilisation</Table.Th>
                <Table.Th>State</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {list.data.commitments.map((c) => {
                const left = daysLeft(c.end);
                return (
                  <Table.Tr key={c.id}>
                    <Table.Td>{c.account_name}</Table.Td>
                    <Table.Td>{c.service}</Table.Td>
                    <Table.Td>
                      {c.region} · {c.resource_type}
                    </Table.Td>
                    <Table.Td ta="right">{c.count}</Table.Td>
                    <Table.Td>{c.term ? `${c.term} yr` : "—"}</Table.Td>
                    <Table.Td>
                      <Group gap={4} wrap="nowrap">
                        <Text size="sm">{c.end ? new Date(c.end).toLocaleDateString() : "—"}</Text>
                        {left !== null && left <= 90 && (
                          <Badge size="xs" color={left <= 30 ? "red" : "orange"}>
                            {left <= 0 ? "expired" : `${left} days`}
                          </Badge>
                        )}
                      </Group>
                    </Table.Td>
                    <Table.Td ta="right">{formatMoney(c.recurring_monthly_cost, c.currency)}</Table.Td>
                    <Table.Td ta="right">{c.utilization_percent === null ? "unknown" : formatPercent(c.utilization_percent)}</Table.Td>
                    <Table.Td>
                      <Badge variant="light">{c.state}</Badge>
                      {c.purchased_by_cudly && (
                        <Badge variant="outline" size="xs" ml={4}>
                          CUDly
                        </Badge>
                      )}
                    </Table.Td>
                  </Table.Tr>
                );
              })}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
    </Stack>
  );
}
