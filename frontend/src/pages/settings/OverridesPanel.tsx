import { Alert, Badge, Button, Group, Select, Table, Text, TextInput } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { Fragment, useState, type FormEvent } from "react";
import { api, type Account, type Schemas } from "../../api/client";
import { ApiError, errorMessage, unwrap } from "../../api/errors";
import { paymentValues } from "../../api/schema";
import { ErrorState, Loading } from "../../components/States";

type Effective = Schemas["EffectiveServiceConfigOut"];
type Override = Schemas["ServiceOverrideOut"];
type Replace = Schemas["ServiceOverrideReplace"];

function Source({ source }: { source: string }) {
  return (
    <Badge size="xs" variant={source === "override" ? "filled" : "outline"} color={source === "override" ? "violet" : "gray"}>
      {source}
    </Badge>
  );
}

function Cell({ value, source }: { value: string; source: string }) {
  return (
    <Group gap={6} wrap="nowrap">
      <Text size="sm">{value}</Text>
      <Source source={source} />
    </Group>
  );
}

const INHERIT = "inherit";

export function OverridesPanel({ account, canEdit }: { account: Account; canEdit: boolean }) {
  const path = { account_id: account.id };
  const effective = useQuery({
    queryKey: ["effective-config", account.id],
    queryFn: () => unwrap(api.GET("/api/accounts/{account_id}/effective-config", { params: { path } })),
  });
  const overrides = useQuery({
    queryKey: ["service-overrides", account.id],
    queryFn: () => unwrap(api.GET("/api/accounts/{account_id}/service-overrides", { params: { path } })),
  });
  const [editing, setEditing] = useState<string | null>(null);
  const queryClient = useQueryClient();
  const refresh = () => {
    void queryClient.invalidateQueries({ queryKey: ["effective-config", account.id] });
    void queryClient.invalidateQueries({ queryKey: ["service-overrides", account.id] });
  };
  const reset = useMutation({
    mutationFn: (service: string) =>
      unwrap(
        api.DELETE("/api/accounts/{account_id}/service-overrides/{provider}/{service}", {
          params: { path: { account_id: account.id, provider: account.provider, service } },
        }),
      ),
    onSuccess: refresh,
  });

  if (effective.isPending || overrides.isPending) return <Loading label="Loading overrides" />;
  if (effective.error) return <ErrorState error={effective.error} />;
  if (overrides.error) return <ErrorState error={overrides.error} />;
  const byService = new Map(overrides.data.overrides.map((o) => [o.service, o]));

  return (
    <Table.ScrollContainer minWidth={640}>
      <Table aria-label={`Service overrides of ${account.name}`} withTableBorder verticalSpacing={4}>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Service</Table.Th>
            <Table.Th>Enabled</Table.Th>
            <Table.Th>Term</Table.Th>
            <Table.Th>Payment</Table.Th>
            <Table.Th>Coverage</Table.Th>
            <Table.Th>Actions</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {effective.data.services.map((svc) => (
            <Fragment key={svc.service}>
              <Table.Tr data-service={svc.service}>
                <Table.Td>
                  <Text size="sm" fw={500}>
                    {svc.service}
                  </Text>
                </Table.Td>
                <Table.Td>
                  <Cell value={svc.enabled.value ? "yes" : "no"} source={svc.enabled.source} />
                </Table.Td>
                <Table.Td>
                  <Cell value={`${svc.term.value} yr`} source={svc.term.source} />
                </Table.Td>
                <Table.Td>
                  <Cell value={svc.payment.value} source={svc.payment.source} />
                </Table.Td>
                <Table.Td>
                  <Cell value={`${svc.coverage.value}%`} source={svc.coverage.source} />
                </Table.Td>
                <Table.Td>
                  {canEdit && (
                    <Group gap={4} wrap="nowrap">
                      <Button size="compact-xs" variant="light" onClick={() => setEditing(editing === svc.service ? null : svc.service)} aria-label={`Edit override ${svc.service}`}>
                        Edit
                      </Button>
                      {byService.has(svc.service) && (
                        <Button
                          size="compact-xs"
                          variant="subtle"
                          color="red"
                          loading={reset.isPending && reset.variables === svc.service}
                          onClick={() => reset.mutate(svc.service)}
                          aria-label={`Reset ${svc.service} to global`}
                        >
                          Reset to global
                        </Button>
                      )}
                    </Group>
                  )}
                </Table.Td>
              </Table.Tr>
              {editing === svc.service && (
                <Table.Tr>
                  <Table.Td colSpan={6}>
                    <OverrideEditor
                      account={account}
                      effective={svc}
                      current={byService.get(svc.service)}
                      onDone={() => {
                        setEditing(null);
                        refresh();
                      }}
                    />
                  </Table.Td>
                </Table.Tr>
              )}
            </Fragment>
          ))}
        </Table.Tbody>
      </Table>
      {reset.error && <ErrorState error={reset.error} title="Reset failed" />}
    </Table.ScrollContainer>
  );
}

/** Turn the editor's choices into a full-replace body, keeping the override's list fields. */
export function overrideBody(
  current: Override | undefined,
  choice: { enabled: string; term: string; payment: string; coverage: string },
): Replace {
  const body: Replace = {
    include_regions: current?.include_regions ?? null,
    exclude_regions: current?.exclude_regions ?? null,
    include_types: current?.include_types ?? null,
    exclude_types: current?.exclude_types ?? null,
    include_engines: current?.include_engines ?? null,
    exclude_engines: current?.exclude_engines ?? null,
    ramp_schedule: current?.ramp_schedule ?? null,
    enabled: choice.enabled === INHERIT ? null : choice.enabled === "true",
    term: choice.term === INHERIT ? null : (Number(choice.term) as 1 | 3),
    payment: choice.payment === INHERIT ? null : (choice.payment as Replace["payment"]),
    coverage: choice.coverage.trim() === "" ? null : choice.coverage.trim(),
  };
  return body;
}

function OverrideEditor({ account, effective, current, onDone }: { account: Account; effective: Effective; current: Override | undefined; onDone(): void }) {
  const [choice, setChoice] = useState({
    enabled: current?.enabled == null ? INHERIT : String(current.enabled),
    term: current?.term == null ? INHERIT : String(current.term),
    payment: current?.payment ?? INHERIT,
    coverage: current?.coverage == null ? "" : String(current.coverage),
  });
  const save = useMutation({
    mutationFn: () =>
      unwrap(
        api.PUT("/api/accounts/{account_id}/service-overrides/{provider}/{service}", {
          params: { path: { account_id: account.id, provider: account.provider, service: effective.service } },
          body: overrideBody(current, choice),
        }),
      ),
    onSuccess: onDone,
  });
  const fields = save.error instanceof ApiError ? save.error.fields : {};
  const submit = (event: FormEvent) => {
    event.preventDefault();
    save.mutate();
  };
  const inherit = (label: string) => ({ value: INHERIT, label: `Inherit global (${label})` });
  return (
    <form onSubmit={submit} aria-label={`Override ${effective.service}`}>
      <Group align="flex-end" gap="sm">
        <Select
          label="Enabled"
          w={170}
          allowDeselect={false}
          value={choice.enabled}
          onChange={(v) => setChoice({ ...choice, enabled: v ?? INHERIT })}
          data={[inherit("global"), { value: "true", label: "yes" }, { value: "false", label: "no" }]}
          error={fields.enabled}
        />
        <Select
          label="Term"
          w={170}
          allowDeselect={false}
          value={choice.term}
          onChange={(v) => setChoice({ ...choice, term: v ?? INHERIT })}
          data={[inherit("global"), { value: "1", label: "1 year" }, { value: "3", label: "3 years" }]}
          error={fields.term}
        />
        <Select
          label="Payment"
          w={190}
          allowDeselect={false}
          value={choice.payment}
          onChange={(v) => setChoice({ ...choice, payment: v ?? INHERIT })}
          data={[inherit("global"), ...paymentValues.map((p) => ({ value: p, label: p }))]}
          error={fields.payment}
        />
        <TextInput
          label="Coverage %"
          description="blank = inherit"
          w={130}
          value={choice.coverage}
          onChange={(e) => setChoice({ ...choice, coverage: e.currentTarget.value })}
          error={fields.coverage}
        />
        <Button type="submit" loading={save.isPending}>
          Save override
        </Button>
        <Button variant="default" onClick={onDone}>
          Cancel
        </Button>
      </Group>
      {save.error && !Object.keys(fields).length && (
        <Alert color="red" role="alert" mt="xs">
          {errorMessage(save.error)}
        </Alert>
      )}
    </form>
  );
}
