import { useCallback } from "react";
import { useSearchParams } from "react-router-dom";

/** Filters kept in the URL, so a view can be shared and survives a reload. */
export function useUrlFilters() {
  const [params, setParams] = useSearchParams();
  const get = useCallback((key: string) => params.get(key) ?? "", [params]);
  const getList = useCallback((key: string) => (params.get(key) ?? "").split(",").filter(Boolean), [params]);
  const set = useCallback(
    (patch: Record<string, string | string[] | null>) =>
      setParams(
        (old) => {
          const next = new URLSearchParams(old);
          for (const [key, value] of Object.entries(patch)) {
            const text = Array.isArray(value) ? value.join(",") : (value ?? "");
            if (text) next.set(key, text);
            else next.delete(key);
          }
          return next;
        },
        { replace: true },
      ),
    [setParams],
  );
  return { get, getList, set };
}

/** `account_ids` only when something is selected. */
export function accountIdsParam(ids: string[]): string | undefined {
  return ids.length ? ids.join(",") : undefined;
}
