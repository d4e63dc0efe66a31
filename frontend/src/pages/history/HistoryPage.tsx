import { Badge, Card, Group, Select, SimpleGrid, Stack, Table, Text, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { api, type Provider, type Schemas } from "../../api/client";
import { unwrap } from "../../api/errors";
import { AccountFilter, ProviderFilter } from "../../components/AccountFilter";
import { Empty, ErrorState, Loading } from "../../components/States";
import { accountIdsParam, useUrlFilters } from "../../components/useUrlFilters";
import { formatMoney } from "../../lib/money";

export function HistoryPage() {
  const filters = useUrlFilters();
  const provider = filters.get("provider");
  const accountIds = filters.getList("account");
  const dimension = filters.get("dimension") || "service";
  const interval = filters.get("interval") || "monthly";
  const query = { provider: (provider || undefined) as Provider | undefined, account_ids: accountIdsParam(accountIds) };
  const history = useQuery({ queryKey: ["history", query], queryFn: () => unwrap(api.GET("/api/history", { params: { query: { ...query, limit: 200 } as never } })) as Promise<Schemas["HistoryPage"]> });
  const analytics = useQuery({
    queryKey: ["history", "analytics", query, interval],
    queryFn: () => unwrap(api.GET("/api/history/analytics", { params: { query: { ...query, interval } as never } })),
  });
  const breakdown = useQuery({
    queryKey: ["history", "breakdown", query, dimension],
    queryFn: () => unwrap(api.GET("/api/history/breakdown", { params: { query: { ...query, dimension } as never } })),
  });

  return (
    <Stack>
      <Title order={2}>Purchase history</Title>
      <Group align="flex-end" role="search" aria-label="History filters">
        <ProviderFilter value={provider} onChange={(value) => filters.set({ provider: value })} />
        <AccountFilter provider={provider} value={accountIds} onChange={(ids) => filters.set({ account: ids })} />
        <Select label="Interval" w={130} allowDeselect={false} value={interval} onChange={(v) => filters.set({ interval: v })} data={["daily", "weekly", "monthly"]} />
        <Select label="Breakdown by" w={150} allowDeselect={false} value={dimension} onChange={(v) => filters.set({ dimension: v })} data={["service", "region", "account", "provider"]} />
      </Group>
      <SimpleGrid cols={{ base: 1, md: 2 }}>
        <Card withBorder component="section" aria-label="Committed spend and savings">
          <Title order={4} mb="sm">
            Committed spend and savings
          </Title>
          {analytics.isPending ? (
            <Loading />
          ) : analytics.error ? (
            <ErrorState error={analytics.error} />
          ) : analytics.data.series.length === 0 ? (
            <Empty>No purchases yet.</Empty>
          ) : (
            analytics.data.series.map((s) => (
              <div key={s.currency} style={{ width: "100%", height: 240 }}>
                <ResponsiveContainer>
                  <BarChart data={s.buckets.map((b) => ({ bucket: b.bucket_start.slice(0, 10), committed: Number(b.committed_spend), savings: Number(b.estimated_monthly_savings) }))}>
                    <CartesianGrid strokeDasharray="3 3" />
                    <XAxis dataKey="bucket" />
                    <YAxis width={80} />
                    <Tooltip formatter={(value) => formatMoney(String(value), s.currency)} />
                    <Legend />
                    <Bar dataKey="committed" name={`Committed (${s.currency})`} fill="#228be6" isAnimationActive={false} />
                    <Bar dataKey="savings" name={`Monthly savings (${s.currency})`} fill="#40c057" isAnimationActive={false} />
                  </BarChart>
                </ResponsiveContainer>
              </div>
            ))
          )}
        </Card>
        <Card withBorder component="section" aria-label="Breakdown">
          <Title order={4} mb="sm">
            By {dimension}
          </Title>
          {breakdown.isPending ? (
            <Loading />
          ) : breakdown.error ? (
            <ErrorState error={breakdown.error} />
          ) : breakdown.data.breakdown.length === 0 ? (
            <Empty>No purchases yet.</Empty>
          ) : (
            <Table aria-label={`Breakdown by ${dimension}`} verticalSpacing={4}>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th tt="capitalize">{dimension}</Table.Th>
                  <Table.Th ta="right">Purchases</Table.Th>
                  <Table.Th ta="right">Committed</Table.Th>
                  <Table.Th ta="right">Monthly savings</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {breakdown.data.breakdown.map((item, index) => (
                  <Table.Tr key={`${item.key}-${item.currency}-${index}`}>
                    <Table.Td>{item.account_name ?? item.key ?? "—"}</Table.Td>
                    <Table.Td ta="right">{item.purchase_count}</Table.Td>
                    <Table.Td ta="right">{formatMoney(item.committed_spend, item.currency)}</Table.Td>
                    <Table.Td ta="right">{formatMoney(item.estimated_monthly_savings, item.currency)}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          )}
        </Card>
      </SimpleGrid>
      {history.isPending ? (
        <Loading label="Loading history" />
      ) : history.error ? (
        <ErrorState error={history.error} />
      ) : history.data.history.length === 0 ? (
        <Empty>No purchases recorded.</Empty>
      ) : (
        <Table.ScrollContainer minWidth={1000}>
          <Table aria-label="Purchase history" striped withTableBorder verticalSpacing={4}>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Purchased</Table.Th>
                <Table.Th>Account</Table.Th>
                <Table.Th>Service</Table.Th>
                <Table.Th>Region / type</Table.Th>
                <Table.Th ta="right">Count</Table.Th>
                <Table.Th>Term</Table.Th>
                <Table.Th ta="right">Upfront</Table.Th>
                <Table.Th ta="right">Monthly</Table.Th>
                <Table.Th ta="right">Est. savings</Table.Th>
                <Table.Th>Status</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {history.data.history.map((h) => (
                <Table.Tr key={h.id}>
                  <Table.Td>{new Date(h.purchased_at).toLocaleDateString()}</Table.Td>
                  <Table.Td>
                    {h.account_name}
                    {h.cloud_account_id === null && (
                      <Badge size="xs" color="gray" ml={4}>
                        deleted
                      </Badge>
                    )}
                  </Table.Td>
                  <Table.Td>{h.service}</Table.Td>
                  <Table.Td>
                    {h.region ?? "—"} · {h.resource_type ?? "—"}
                  </Table.Td>
                  <Table.Td ta="right">{h.count}</Table.Td>
                  <Table.Td>{h.term ? `${h.term} yr` : "—"}</Table.Td>
                  <Table.Td ta="right">{formatMoney(h.upfront_cost, h.currency ?? "USD")}</Table.Td>
                  <Table.Td ta="right">{formatMoney(h.monthly_cost, h.currency ?? "USD")}</Table.Td>
                  <Table.Td ta="right">{formatMoney(h.estimated_monthly_savings, h.currency ?? "USD")}</Table.Td>
                  <Table.Td>
                    <Badge variant="light">{h.status}</Badge>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      <Text size="xs" c="dimmed">
        Amounts are shown as the API reports them, per currency.
      </Text>
    </Stack>
  );
}
