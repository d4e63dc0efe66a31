import { MultiSelect, Select } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { useEffect } from "react";
import { api, type Provider } from "../api/client";
import { unwrap } from "../api/errors";
import { providerValues } from "../api/schema";

const PROVIDER_LABEL: Record<Provider, string> = { aws: "AWS", azure: "Azure", gcp: "GCP" };

export function ProviderFilter({ value, onChange }: { value: string; onChange(value: string): void }) {
  return (
    <Select
      label="Provider"
      placeholder="All providers"
      clearable
      w={150}
      data={providerValues.map((p) => ({ value: p, label: PROVIDER_LABEL[p] }))}
      value={value || null}
      onChange={(v) => onChange(v ?? "")}
    />
  );
}

/** Multi-select of the enabled accounts of `provider` (all providers when empty). Selections
 *  that no longer fit the provider are dropped. */
export function AccountFilter({ provider, value, onChange }: { provider: string; value: string[]; onChange(ids: string[]): void }) {
  const accounts = useQuery({
    queryKey: ["accounts", "filter", provider],
    queryFn: () =>
      unwrap(api.GET("/api/accounts", { params: { query: { enabled: true, ...(provider ? { provider: provider as Provider } : {}) } } })),
  });
  const options = (accounts.data?.accounts ?? []).map((a) => ({ value: a.id, label: `${a.name} (${a.external_id})` }));
  useEffect(() => {
    if (!accounts.data) return;
    const known = new Set(accounts.data.accounts.map((a) => a.id));
    const kept = value.filter((id) => known.has(id));
    if (kept.length !== value.length) onChange(kept);
  }, [accounts.data, value, onChange]);
  return (
    <MultiSelect
      label="Account"
      placeholder={value.length ? undefined : "All accounts"}
      data={options}
      value={value.filter((id) => options.some((o) => o.value === id))}
      onChange={onChange}
      searchable
      clearable
      miw={260}
      maw={520}
      nothingFoundMessage={accounts.isPending ? "Loading…" : "No matching account"}
    />
  );
}
