import { MantineProvider } from "@mantine/core";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { render } from "@testing-library/react";
import type { ReactElement } from "react";
import { MemoryRouter } from "react-router-dom";

export function renderWithProviders(ui: ReactElement) {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false }, mutations: { retry: false } } });
  return render(
    <MantineProvider>
      <QueryClientProvider client={client}>
        <MemoryRouter>{ui}</MemoryRouter>
      </QueryClientProvider>
    </MantineProvider>,
  );
}

/** A fetch stub answering one JSON response per call, recording the requests. */
export function stubFetch(...answers: { status: number; body?: unknown }[]) {
  const requests: { method: string; url: string; body: unknown }[] = [];
  const fetch = async (request: Request) => {
    const text = await request.text();
    requests.push({ method: request.method, url: request.url, body: text ? JSON.parse(text) : undefined });
    const answer = answers.shift() ?? { status: 500, body: { error: "unexpected request", code: "internal" } };
    return new Response(answer.body === undefined ? null : JSON.stringify(answer.body), {
      status: answer.status,
      headers: { "Content-Type": "application/json" },
    });
  };
  globalThis.fetch = fetch as typeof globalThis.fetch;
  return requests;
}
