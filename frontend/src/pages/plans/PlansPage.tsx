import { Alert, Badge, Button, Checkbox, Group, Modal, MultiSelect, Select, Stack, Table, Text, TextInput, Title, Tooltip } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useRef, useState, type FormEvent } from "react";
import { api, type Provider, type Schemas } from "../../api/client";
import { ApiError, errorMessage, unwrap } from "../../api/errors";
import { paymentValues, providerValues } from "../../api/schema";
import { can, useAuth } from "../../auth/AuthContext";
import { AccountFilter, ProviderFilter } from "../../components/AccountFilter";
import { Empty, ErrorState, Loading } from "../../components/States";
import { accountIdsParam, useUrlFilters } from "../../components/useUrlFilters";
import { ExecutionGroup } from "../executions/ExecutionGroup";

type Plan = Schemas["PlanRead"];

const PROVIDER_LABEL: Record<string, string> = { aws: "AWS", azure: "Azure", gcp: "GCP" };

export function accountsColumn(plan: Plan): string {
  if (plan.target_accounts.all) return `All ${PROVIDER_LABEL[plan.provider ?? ""] ?? ""} accounts`.replace("  ", " ");
  return `${plan.target_accounts.count} account${plan.target_accounts.count === 1 ? "" : "s"}`;
}

export function PlansPage() {
  const { me } = useAuth();
  const filters = useUrlFilters();
  const provider = filters.get("provider");
  const accountIds = filters.getList("account");
  const accountParam = accountIdsParam(accountIds);
  const plans = useQuery({
    queryKey: ["plans", accountParam ?? null],
    queryFn: () => unwrap(api.GET("/api/plans", { params: { query: { account_ids: accountParam } } })),
  });
  const [editing, setEditing] = useState<Plan | "new" | null>(null);
  const [executing, setExecuting] = useState<Plan | null>(null);
  // The API filters by account; a plan's provider is one of its fields.
  const shown = (plans.data?.plans ?? []).filter((plan) => !provider || plan.provider === provider);
  const filtered = provider !== "" || accountIds.length > 0;
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>Plans</Title>
        {can(me, "plans", "create") && <Button onClick={() => setEditing("new")}>Add plan</Button>}
      </Group>
      <Group align="flex-end" gap="sm" role="search" aria-label="Plan filters">
        <ProviderFilter value={provider} onChange={(value) => filters.set({ provider: value })} />
        <AccountFilter provider={provider} value={accountIds} onChange={(ids) => filters.set({ account: ids })} />
      </Group>
      {plans.isPending ? (
        <Loading label="Loading plans" />
      ) : plans.error ? (
        <ErrorState error={plans.error} />
      ) : shown.length === 0 ? (
        <Empty>{filtered ? "No plan targets the chosen accounts." : "No plans yet. A plan says what to buy, where, and when."}</Empty>
      ) : (
        <Table.ScrollContainer minWidth={900}>
          <Table aria-label="Plans" withTableBorder verticalSpacing={4}>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Services</Table.Th>
                <Table.Th>Accounts</Table.Th>
                <Table.Th>Schedule</Table.Th>
                <Table.Th>Mode</Table.Th>
                <Table.Th>Actions</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {shown.map((plan) => (
                <Table.Tr key={plan.id} aria-label={plan.name}>
                  <Table.Td>
                    <Text fw={500} size="sm">
                      {plan.name}
                    </Text>
                    {!plan.enabled && <Badge size="xs" color="gray">disabled</Badge>}
                  </Table.Td>
                  <Table.Td>
                    <Text size="xs">{Object.keys(plan.services).join(", ")}</Text>
                  </Table.Td>
                  <Table.Td>
                    <Tooltip label={plan.target_accounts.names.join(", ") || "every enabled account of the provider"} multiline w={300} role="tooltip">
                      <Text size="sm" td="underline" style={{ textDecorationStyle: "dotted" }} tabIndex={0}>
                        {accountsColumn(plan)}
                      </Text>
                    </Tooltip>
                  </Table.Td>
                  <Table.Td>
                    <Text size="xs">{plan.schedule ?? "manual"}</Text>
                  </Table.Td>
                  <Table.Td>
                    {plan.dry_run ? (
                      <Badge color="grape" variant="light">
                        dry run
                      </Badge>
                    ) : (
                      <Badge color="red">real purchases</Badge>
                    )}
                  </Table.Td>
                  <Table.Td>
                    <Group gap={4} wrap="nowrap">
                      {can(me, "plans", "update") && (
                        <Button size="compact-xs" variant="light" onClick={() => setEditing(plan)} aria-label={`Edit plan ${plan.name}`}>
                          Edit
                        </Button>
                      )}
                      {can(me, "plans", "execute") && (
                        <Button size="compact-xs" variant="light" color="teal" onClick={() => setExecuting(plan)} aria-label={`Execute plan ${plan.name}`}>
                          Execute
                        </Button>
                      )}
                    </Group>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      <Modal opened={editing !== null} onClose={() => setEditing(null)} title={editing === "new" || editing === null ? "Add plan" : "Edit plan"} size="lg">
        {editing !== null && <PlanForm plan={editing === "new" ? undefined : editing} onDone={() => setEditing(null)} />}
      </Modal>
      <Modal opened={executing !== null} onClose={() => setExecuting(null)} title={`Execute ${executing?.name ?? ""}`} size="xl">
        {executing && <ExecutePlan plan={executing} />}
      </Modal>
    </Stack>
  );
}

function ExecutePlan({ plan }: { plan: Plan }) {
  const execute = useMutation({ mutationFn: () => unwrap(api.POST("/api/plans/{plan_id}/execute", { params: { path: { plan_id: plan.id } } })) });
  if (execute.data) return <ExecutionGroup groupId={execute.data.execution_group_id} executions={execute.data.executions} />;
  return (
    <Stack>
      {plan.dry_run ? (
        <Alert color="grape" title="Dry run">
          Records what would be bought on each target account. Nothing is purchased.
        </Alert>
      ) : (
        <Alert color="red" title="Real purchases">
          This plan buys commitments (subject to the server's purchase switch, caps and approval).
        </Alert>
      )}
      <Text size="sm">Targets: {accountsColumn(plan)}</Text>
      {execute.error && <Alert color="red" role="alert">{errorMessage(execute.error)}</Alert>}
      <Group justify="flex-end">
        <Button loading={execute.isPending} onClick={() => execute.mutate()}>
          {plan.dry_run ? "Start dry run" : "Execute now"}
        </Button>
      </Group>
    </Stack>
  );
}

const INHERIT = "inherit";

function PlanForm({ plan, onDone }: { plan?: Plan; onDone(): void }) {
  const queryClient = useQueryClient();
  const configs = useQuery({ queryKey: ["service-configs"], queryFn: () => unwrap(api.GET("/api/config")) });
  const firstService = plan ? Object.values(plan.services)[0] : undefined;
  const [name, setName] = useState(plan?.name ?? "");
  const [provider, setProvider] = useState<string>(plan?.provider ?? "aws");
  const [services, setServices] = useState<string[]>(plan ? Object.keys(plan.services).map((key) => key.split(":")[1] ?? key) : []);
  const [term, setTerm] = useState<string>(firstService?.term ? String(firstService.term) : INHERIT);
  const [payment, setPayment] = useState<string>((firstService?.payment as string | undefined) ?? INHERIT);
  const [coverage, setCoverage] = useState<string>(firstService?.coverage ? String(firstService.coverage) : "");
  const [schedule, setSchedule] = useState(plan?.schedule ?? "");
  const [dryRun, setDryRun] = useState(plan?.dry_run ?? true);
  const [targets, setTargets] = useState<string[] | null>(null);
  const created = useRef<string | null>(null);
  const accounts = useQuery({
    queryKey: ["accounts", "filter", provider],
    queryFn: () => unwrap(api.GET("/api/accounts", { params: { query: { provider: provider as Provider, enabled: true } } })),
  });
  const current = useQuery({
    queryKey: ["plan-accounts", plan?.id],
    enabled: plan !== undefined,
    queryFn: () => unwrap(api.GET("/api/plans/{plan_id}/accounts", { params: { path: { plan_id: plan?.id ?? "" } } })),
  });
  const selected = targets ?? current.data?.account_ids ?? [];

  const save = useMutation({
    mutationFn: async () => {
      const settings: Record<string, unknown> = {};
      if (term !== INHERIT) settings.term = Number(term);
      if (payment !== INHERIT) settings.payment = payment;
      if (coverage.trim()) settings.coverage = coverage.trim();
      const body = {
        name: name.trim(),
        services: Object.fromEntries(services.map((service) => [`${provider}:${service}`, settings])),
        schedule: schedule.trim() || null,
        dry_run: dryRun,
      };
      const putAccounts = (planId: string, ids: string[]) =>
        unwrap(api.PUT("/api/plans/{plan_id}/accounts", { params: { path: { plan_id: planId } }, body: { account_ids: ids } }));
      let saved: Plan;
      if (plan) {
        // The API refuses a provider switch while explicit targets of the old provider remain
        // (SPEC §6): clear them first, and put them back if the switch is refused.
        const previous = current.data?.account_ids ?? [];
        const switching = plan.provider !== provider && previous.length > 0;
        if (switching) await putAccounts(plan.id, []);
        try {
          saved = await unwrap(api.PUT("/api/plans/{plan_id}", { params: { path: { plan_id: plan.id } }, body: body as never }));
        } catch (error) {
          if (switching) await putAccounts(plan.id, previous).catch(() => undefined);
          throw error;
        }
      } else if (created.current) {
        // Saved once already, then its targets were refused: update it, never create a twin.
        saved = await unwrap(api.PUT("/api/plans/{plan_id}", { params: { path: { plan_id: created.current } }, body: body as never }));
      } else {
        saved = await unwrap(api.POST("/api/plans", { body: body as never }));
        created.current = saved.id;
      }
      await putAccounts(saved.id, selected);
      return saved;
    },
    onSettled: () => void queryClient.invalidateQueries({ queryKey: ["plans"] }),
    onSuccess: onDone,
  });
  const fields = save.error instanceof ApiError ? save.error.fields : {};
  const serviceOptions = (configs.data?.service_configs ?? []).filter((c) => c.provider === provider).map((c) => c.service);
  const submit = (event: FormEvent) => {
    event.preventDefault();
    save.mutate();
  };
  return (
    <form onSubmit={submit} aria-label="Plan">
      <Stack gap="sm">
        <TextInput label="Plan name" required value={name} onChange={(e) => setName(e.currentTarget.value)} error={fields.name} />
        <Select
          label="Provider"
          allowDeselect={false}
          data={providerValues.map((p) => ({ value: p, label: PROVIDER_LABEL[p] ?? p }))}
          value={provider}
          onChange={(value) => {
            if (!value || value === provider) return;
            setProvider(value);
            setServices([]);
            setTargets([]);
          }}
        />
        <MultiSelect
          label="Services"
          required
          // Until the options arrive there is nothing to pick: a click then would open nothing.
          disabled={configs.isPending}
          placeholder={configs.isPending ? "Loading services…" : undefined}
          data={serviceOptions}
          value={services}
          onChange={setServices}
          error={fields.services}
        />
        <Group grow>
          <Select label="Term" allowDeselect={false} value={term} onChange={(v) => setTerm(v ?? INHERIT)} data={[{ value: INHERIT, label: "Account default" }, { value: "1", label: "1 year" }, { value: "3", label: "3 years" }]} />
          <Select label="Payment" allowDeselect={false} value={payment} onChange={(v) => setPayment(v ?? INHERIT)} data={[{ value: INHERIT, label: "Account default" }, ...paymentValues]} />
          <TextInput label="Coverage %" placeholder="effective" value={coverage} onChange={(e) => setCoverage(e.currentTarget.value)} />
        </Group>
        <MultiSelect
          label="Target accounts"
          description="Search to add, ✕ to remove. Empty = every enabled account of the provider."
          disabled={accounts.isPending}
          placeholder={accounts.isPending ? "Loading accounts…" : selected.length ? undefined : `All ${PROVIDER_LABEL[provider] ?? ""} accounts`}
          data={(accounts.data?.accounts ?? []).map((a) => ({ value: a.id, label: `${a.name} (${a.external_id})` }))}
          value={selected}
          onChange={setTargets}
          searchable
          clearable
          error={fields.account_ids}
        />
        <TextInput label="Schedule (cron, optional)" placeholder="0 6 * * 1" value={schedule} onChange={(e) => setSchedule(e.currentTarget.value)} error={fields.schedule} />
        <Checkbox label="Dry run (record what would be bought, buy nothing)" checked={dryRun} onChange={(e) => setDryRun(e.currentTarget.checked)} />
        {save.error && (
          <Alert color="red" role="alert">
            {errorMessage(save.error)}
          </Alert>
        )}
        <Group justify="flex-end">
          <Button variant="default" onClick={onDone}>
            Cancel
          </Button>
          <Button type="submit" loading={save.isPending}>
            Save plan
          </Button>
        </Group>
      </Stack>
    </form>
  );
}
