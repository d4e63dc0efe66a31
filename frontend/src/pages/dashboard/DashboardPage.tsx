import { Card, Group, SimpleGrid, Stack, Table, Text, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import { api, type Provider } from "../../api/client";
import { unwrap } from "../../api/errors";
import { AccountFilter, ProviderFilter } from "../../components/AccountFilter";
import { Empty, ErrorState, Loading } from "../../components/States";
import { accountIdsParam, useUrlFilters } from "../../components/useUrlFilters";
import { formatMoney, formatMoneyMap } from "../../lib/money";

function Figure({ label, value }: { label: string; value: string }) {
  return (
    <Card withBorder padding="md" role="group" aria-label={label}>
      <Text size="xs" c="dimmed" tt="uppercase" fw={600}>
        {label}
      </Text>
      <Text size="xl" fw={700} mt={4}>
        {value}
      </Text>
    </Card>
  );
}

export function DashboardPage() {
  const filters = useUrlFilters();
  const provider = filters.get("provider");
  const accountIds = filters.getList("account");
  const query = { provider: (provider || undefined) as Provider | undefined, account_ids: accountIdsParam(accountIds) };
  const summary = useQuery({ queryKey: ["dashboard", "summary", query], queryFn: () => unwrap(api.GET("/api/dashboard/summary", { params: { query: query as never } })) });
  const series = useQuery({
    queryKey: ["dashboard", "series", query],
    queryFn: () => unwrap(api.GET("/api/dashboard/savings-over-time", { params: { query: { ...query, interval: "daily" } as never } })),
  });
  const byService = useQuery({
    queryKey: ["dashboard", "by-service", query],
    queryFn: () => unwrap(api.GET("/api/history/breakdown", { params: { query: { ...query, dimension: "service" } as never } })),
  });
  const upcoming = useQuery({
    queryKey: ["dashboard", "upcoming", query.account_ids],
    queryFn: () => unwrap(api.GET("/api/dashboard/upcoming", { params: { query: { account_ids: query.account_ids } as never } })),
  });

  return (
    <Stack>
      <Title order={2}>Dashboard</Title>
      <Group align="flex-end" role="search" aria-label="Dashboard filters">
        <ProviderFilter value={provider} onChange={(value) => filters.set({ provider: value })} />
        <AccountFilter provider={provider} value={accountIds} onChange={(ids) => filters.set({ account: ids })} />
      </Group>
      {summary.isPending ? (
        <Loading label="Loading summary" />
      ) : summary.error ? (
        <ErrorState error={summary.error} />
      ) : (
        <SimpleGrid cols={{ base: 1, xs: 2, md: 5 }}>
          <Figure label="Potential monthly savings" value={formatMoneyMap(summary.data.potential_monthly_savings)} />
          <Figure label="Committed monthly" value={formatMoneyMap(summary.data.committed_monthly)} />
          <Figure label="Realized monthly savings" value={formatMoneyMap(summary.data.realized_monthly_savings)} />
          <Figure label="Recommendations" value={String(summary.data.recommendation_count)} />
          <Figure label="Active commitments" value={String(summary.data.active_commitment_count)} />
        </SimpleGrid>
      )}
      <Card withBorder padding="md" component="section" aria-label="Savings over time">
        <Title order={4} mb="sm">
          Savings over time
        </Title>
        {series.isPending ? (
          <Loading label="Loading chart" />
        ) : series.error ? (
          <ErrorState error={series.error} />
        ) : series.data.series.length === 0 ? (
          <Empty>No data yet: it builds up as collections run.</Empty>
        ) : (
          series.data.series.map((currencySeries) => (
            <Stack key={currencySeries.currency} gap={4}>
              <Text size="xs" c="dimmed">
                {currencySeries.currency} per month
              </Text>
              <div style={{ width: "100%", height: 260 }}>
                <ResponsiveContainer>
                  <LineChart
                    data={currencySeries.points.map((p) => ({
                      day: p.bucket_start.slice(0, 10),
                      // Numbers only for drawing; every figure shown as text comes from the API's strings.
                      potential: Number(p.potential_monthly_savings),
                      realized: Number(p.realized_monthly_savings),
                    }))}
                    margin={{ top: 8, right: 24, bottom: 8, left: 16 }}
                  >
                    <CartesianGrid strokeDasharray="3 3" />
                    <XAxis dataKey="day" />
                    <YAxis width={80} />
                    <Tooltip formatter={(value) => formatMoney(String(value), currencySeries.currency)} />
                    <Legend />
                    <Line type="monotone" dataKey="potential" name="Potential savings" stroke="#228be6" strokeWidth={2} dot={{ r: 3 }} connectNulls isAnimationActive={false} />
                    <Line type="monotone" dataKey="realized" name="Realized savings" stroke="#40c057" strokeWidth={2} dot={{ r: 3 }} connectNulls isAnimationActive={false} />
                  </LineChart>
                </ResponsiveContainer>
              </div>
            </Stack>
          ))
        )}
      </Card>
      <SimpleGrid cols={{ base: 1, md: 2, lg: 3 }}>
        <Card withBorder padding="md" component="section" aria-label="Savings by account">
          <Title order={4} mb="sm">
            By account
          </Title>
          {summary.data && summary.data.by_account.length ? (
            <Table aria-label="Figures by account" verticalSpacing={4}>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Account</Table.Th>
                  <Table.Th ta="right">Potential</Table.Th>
                  <Table.Th ta="right">Committed</Table.Th>
                  <Table.Th ta="right">Recs</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {summary.data.by_account.map((a) => (
                  <Table.Tr key={a.cloud_account_id}>
                    <Table.Td style={{ whiteSpace: "nowrap" }}>
                      {a.account_name} <Text span size="xs" c="dimmed">{a.provider}</Text>
                    </Table.Td>
                    <Table.Td ta="right">{formatMoneyMap(a.potential_monthly_savings)}</Table.Td>
                    <Table.Td ta="right">{formatMoneyMap(a.committed_monthly)}</Table.Td>
                    <Table.Td ta="right">{a.recommendation_count}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          ) : (
            <Empty>No accounts match.</Empty>
          )}
        </Card>
        <Card withBorder padding="md" component="section" aria-label="Savings by service">
          <Title order={4} mb="sm">
            By service (purchases)
          </Title>
          {byService.isPending ? (
            <Loading label="Loading services" />
          ) : byService.error ? (
            <ErrorState error={byService.error} />
          ) : byService.data.breakdown.length === 0 ? (
            <Empty>Nothing bought yet.</Empty>
          ) : (
            <Table aria-label="Figures by service" verticalSpacing={4}>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Service</Table.Th>
                  <Table.Th ta="right">Purchases</Table.Th>
                  <Table.Th ta="right">Monthly cost</Table.Th>
                  <Table.Th ta="right">Monthly savings</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {byService.data.breakdown.map((item, index) => (
                  <Table.Tr key={`${item.key}-${item.currency}-${index}`}>
                    <Table.Td>{item.key ?? "—"}</Table.Td>
                    <Table.Td ta="right">{item.purchase_count}</Table.Td>
                    <Table.Td ta="right">{formatMoney(item.monthly_cost, item.currency)}</Table.Td>
                    <Table.Td ta="right">{formatMoney(item.estimated_monthly_savings, item.currency)}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          )}
        </Card>
        <Card withBorder padding="md" component="section" aria-label="Upcoming">
          <Title order={4} mb="sm">
            Upcoming
          </Title>
          {upcoming.isPending ? (
            <Loading label="Loading upcoming" />
          ) : upcoming.error ? (
            <ErrorState error={upcoming.error} />
          ) : (
            <Stack gap="xs">
              <Text size="sm" fw={600}>
                Expiring within {upcoming.data.days} days
              </Text>
              {upcoming.data.expiring_commitments.length === 0 ? (
                <Text size="sm" c="dimmed">Nothing expires soon.</Text>
              ) : (
                upcoming.data.expiring_commitments.map((c) => (
                  <Text key={c.id} size="sm">
                    {c.account_name}: {c.service} {c.resource_type} × {c.count} ends {c.end ? new Date(c.end).toLocaleDateString() : "?"}
                  </Text>
                ))
              )}
              <Text size="sm" fw={600} mt="xs">
                Scheduled plan runs
              </Text>
              {upcoming.data.scheduled_runs.length === 0 ? (
                <Text size="sm" c="dimmed">No scheduled plans.</Text>
              ) : (
                upcoming.data.scheduled_runs.map((r) => (
                  <Text key={r.plan_id} size="sm">
                    {r.plan_name} ({r.schedule}){r.dry_run ? " · dry run" : ""}: {r.next_run_at ? new Date(r.next_run_at).toLocaleString() : "—"}
                  </Text>
                ))
              )}
            </Stack>
          )}
        </Card>
      </SimpleGrid>
    </Stack>
  );
}
