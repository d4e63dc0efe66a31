import { Badge, Button, Card, Group, NumberInput, Select, Stack, Table, Text, TextInput, Title, Tooltip } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { useState } from "react";
import { api, type Provider, type Schemas } from "../../api/client";
import { unwrap } from "../../api/errors";
import { recommendationSortValues } from "../../api/schema";
import { AccountFilter, ProviderFilter } from "../../components/AccountFilter";
import { Empty, ErrorState, Loading } from "../../components/States";
import { accountIdsParam, useUrlFilters } from "../../components/useUrlFilters";
import { formatMoney, formatPercent, totalsByCurrency } from "../../lib/money";
import { download, toCsv } from "./csv";
import { RefreshButton } from "./RefreshProgress";

type Sort = Schemas["RecommendationSort"];
type Recommendation = Schemas["RecommendationOut"];

const SORT_LABEL: Record<string, string> = {
  estimated_monthly_savings: "Monthly savings",
  savings_percent: "Savings %",
  upfront_cost: "Upfront cost",
  collected_at: "Collected",
};

export function RecommendationsPage() {
  const filters = useUrlFilters();
  const provider = filters.get("provider");
  const accountIds = filters.getList("account");
  const sort = (filters.get("sort") || "-estimated_monthly_savings") as Sort;
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  const cursor = cursors[cursors.length - 1] ?? null;
  const query = {
    provider: (provider || undefined) as Provider | undefined,
    service: filters.get("service") || undefined,
    region: filters.get("region") || undefined,
    min_savings: filters.get("min_savings") || undefined,
    account_ids: accountIdsParam(accountIds),
    sort,
    limit: 50,
  };
  const list = useQuery({
    queryKey: ["recommendations", query, cursor],
    // JSON (the endpoint also speaks CSV when asked).
    queryFn: () => unwrap(api.GET("/api/recommendations", { params: { query: { ...query, cursor: cursor ?? undefined } as never } })) as Promise<Schemas["RecommendationList"]>,
  });
  const setFilter = (patch: Record<string, string | string[] | null>) => {
    setCursors([null]);
    filters.set(patch);
  };
  const rows = list.data?.recommendations ?? [];
  const totals = totalsByCurrency(rows, (r) => r.estimated_monthly_savings, (r) => r.currency);
  const upfront = totalsByCurrency(rows, (r) => r.upfront_cost, (r) => r.currency);

  const exportCsv = () =>
    download(
      "recommendations.csv",
      toCsv(
        ["account", "external_id", "provider", "service", "region", "resource_type", "engine", "term", "payment", "count", "upfront_cost", "recurring_monthly_cost", "estimated_monthly_savings", "savings_percent", "currency", "collected_at"],
        rows.map((r) => [r.account_name, r.account_external_id, r.provider, r.service, r.region, r.resource_type, r.engine, r.term, r.payment, r.count, r.upfront_cost, r.recurring_monthly_cost, r.estimated_monthly_savings, r.savings_percent, r.currency, r.collected_at]),
      ),
    );

  return (
    <Stack>
      <Group justify="space-between" align="flex-start">
        <Title order={2}>Recommendations</Title>
        <RefreshButton accountIds={accountIds} />
      </Group>
      <Group align="flex-end" gap="sm" role="search" aria-label="Recommendation filters">
        <ProviderFilter value={provider} onChange={(value) => setFilter({ provider: value })} />
        <AccountFilter provider={provider} value={accountIds} onChange={(ids) => setFilter({ account: ids })} />
        <TextInput label="Service" placeholder="any" w={130} defaultValue={filters.get("service")} onBlur={(e) => setFilter({ service: e.currentTarget.value.trim() })} />
        <TextInput label="Region" placeholder="any" w={130} defaultValue={filters.get("region")} onBlur={(e) => setFilter({ region: e.currentTarget.value.trim() })} />
        <NumberInput label="Minimum monthly savings" w={190} min={0} defaultValue={filters.get("min_savings") || undefined} onBlur={(e) => setFilter({ min_savings: e.currentTarget.value.replace(/[^0-9.]/g, "") })} />
        <Select
          label="Sort by"
          w={210}
          allowDeselect={false}
          value={sort}
          onChange={(value) => setFilter({ sort: value })}
          data={recommendationSortValues.map((value) => ({ value, label: `${SORT_LABEL[value.replace(/^-/, "")] ?? value} ${value.startsWith("-") ? "↓" : "↑"}` }))}
        />
      </Group>
      <Freshness provider={provider} accountIds={accountIds} />
      {list.isPending ? (
        <Loading label="Loading recommendations" />
      ) : list.error ? (
        <ErrorState error={list.error} />
      ) : rows.length === 0 ? (
        <Empty>No recommendations match. Collect with Refresh, or widen the filters.</Empty>
      ) : (
        <Stack gap="xs">
          <Group justify="space-between">
            <Text size="sm" aria-label="Totals of the visible recommendations">
              {rows.length} shown · monthly savings {Object.entries(totals).map(([c, v]) => formatMoney(v, c)).join(" · ")} · upfront{" "}
              {Object.entries(upfront).map(([c, v]) => formatMoney(v, c)).join(" · ")}
            </Text>
            <Button size="xs" variant="default" onClick={exportCsv}>
              Download CSV
            </Button>
          </Group>
          <RecommendationTable rows={rows} />
          <Group justify="flex-end">
            <Button size="xs" variant="default" disabled={cursors.length <= 1} onClick={() => setCursors((old) => old.slice(0, -1))}>
              Previous page
            </Button>
            <Button size="xs" variant="default" disabled={!list.data.next_cursor} onClick={() => setCursors((old) => [...old, list.data.next_cursor ?? null])}>
              Next page
            </Button>
          </Group>
        </Stack>
      )}
    </Stack>
  );
}

function RecommendationTable({ rows }: { rows: Recommendation[] }) {
  return (
    <Table.ScrollContainer minWidth={1000}>
      <Table aria-label="Recommendations" striped withTableBorder verticalSpacing={4}>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Account</Table.Th>
            <Table.Th>Service</Table.Th>
            <Table.Th>Region</Table.Th>
            <Table.Th>Type</Table.Th>
            <Table.Th>Term / payment</Table.Th>
            <Table.Th ta="right">Count</Table.Th>
            <Table.Th ta="right">Upfront</Table.Th>
            <Table.Th ta="right">Monthly cost</Table.Th>
            <Table.Th ta="right">Monthly savings</Table.Th>
            <Table.Th ta="right">Savings %</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {rows.map((r) => (
            <Table.Tr key={r.id}>
              <Table.Td>
                <Text size="sm">{r.account_name}</Text>
                <Text size="xs" c="dimmed" style={{ whiteSpace: "nowrap" }}>
                  {r.provider} {r.account_external_id}
                </Text>
              </Table.Td>
              <Table.Td>{r.service}</Table.Td>
              <Table.Td>{r.region}</Table.Td>
              <Table.Td>
                {r.resource_type}
                {r.engine ? ` · ${r.engine}` : ""}
              </Table.Td>
              <Table.Td style={{ whiteSpace: "nowrap" }}>
                {r.term} yr · {r.payment}
              </Table.Td>
              <Table.Td ta="right">{r.count}</Table.Td>
              <Table.Td ta="right">{formatMoney(r.upfront_cost, r.currency)}</Table.Td>
              <Table.Td ta="right">{formatMoney(r.recurring_monthly_cost, r.currency)}</Table.Td>
              <Table.Td ta="right" fw={600}>
                {formatMoney(r.estimated_monthly_savings, r.currency)}
              </Table.Td>
              <Table.Td ta="right">{formatPercent(r.savings_percent)}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

function Freshness({ provider, accountIds }: { provider: string; accountIds: string[] }) {
  const freshness = useQuery({
    queryKey: ["freshness", provider, accountIds],
    queryFn: () =>
      unwrap(api.GET("/api/recommendations/freshness", { params: { query: { provider: (provider || undefined) as Provider | undefined, account_ids: accountIdsParam(accountIds) } as never } })),
  });
  if (!freshness.data || freshness.data.accounts.length === 0) return null;
  return (
    <Card withBorder padding="xs" aria-label="Freshness per account" component="section">
      <Group gap="xs">
        <Text size="sm" fw={600}>
          Freshness:
        </Text>
        {freshness.data.accounts.map((a) => (
          <Tooltip key={a.cloud_account_id} label={a.last_error ?? (a.last_collected_at ? `collected ${new Date(a.last_collected_at).toLocaleString()}` : "never collected")} multiline w={300}>
            <Badge color={a.stale ? "orange" : "green"} variant="light" tt="none">
              {a.account_name}: {a.stale ? "stale" : "fresh"} ({a.recommendation_count})
            </Badge>
          </Tooltip>
        ))}
      </Group>
    </Card>
  );
}
