import { screen, waitFor } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { renderWithProviders, stubFetch } from "../../test/render";
import { AccountForm } from "./AccountForm";
import { overrideBody } from "./OverridesPanel";
import { safeNext } from "../login/LoginPage";

describe("AccountForm", () => {
  it("switches fields with the auth mode and shows the API's field errors under them", async () => {
    const user = userEvent.setup();
    const requests = stubFetch({
      status: 400,
      body: { error: "invalid input", code: "validation_error", fields: [{ field: "aws_role_arn", message: "the role's account must equal external_id" }] },
    });
    const onDone = vi.fn();
    renderWithProviders(<AccountForm provider="aws" bastions={[]} onDone={onDone} onCancel={() => {}} />);
    expect(screen.getByLabelText("Access key ID")).toBeInTheDocument();
    expect(screen.queryByLabelText(/Role ARN/)).not.toBeInTheDocument();

    await user.click(screen.getByRole("textbox", { name: "Auth mode" }));
    await user.click(await screen.findByRole("option", { name: "Assume role" }));
    expect(screen.queryByLabelText("Access key ID")).not.toBeInTheDocument();

    await user.type(screen.getByRole("textbox", { name: /^Name/ }), "prod");
    await user.type(screen.getByRole("textbox", { name: /^AWS account ID/ }), "123456789012");
    await user.type(screen.getByRole("textbox", { name: /^Role ARN/ }), "arn:aws:iam::999999999999:role/X");
    await user.click(screen.getByRole("button", { name: "Add account" }));

    await waitFor(() => expect(screen.getByText("the role's account must equal external_id")).toBeInTheDocument());
    expect(screen.getByRole("textbox", { name: /^Role ARN/ })).toHaveAttribute("aria-invalid", "true");
    expect(onDone).not.toHaveBeenCalled();
    expect(requests).toHaveLength(1);
    expect(requests[0]?.method).toBe("POST");
    expect(requests[0]?.body).toMatchObject({ provider: "aws", aws_auth_mode: "role_arn", name: "prod" });
  });

  it("renders a Bastion picker for bastion mode", async () => {
    const user = userEvent.setup();
    const bastion = { id: "b1", name: "hub", external_id: "111122223333", provider: "aws", aws_auth_mode: "access_keys" } as never;
    renderWithProviders(<AccountForm provider="aws" bastions={[bastion]} onDone={() => {}} onCancel={() => {}} />);
    await user.click(screen.getByRole("textbox", { name: "Auth mode" }));
    await user.click(await screen.findByRole("option", { name: /Bastion/ }));
    await user.click(screen.getByRole("textbox", { name: /^Bastion account/ }));
    expect(await screen.findByRole("option", { name: "hub (111122223333)" })).toBeInTheDocument();
  });
});

describe("overrideBody", () => {
  it("is a full replace: inherit becomes null, the override's lists are kept", () => {
    const current = { provider: "aws", service: "ec2", include_regions: ["us-east-1"], term: 1 } as never;
    expect(overrideBody(current, { enabled: "inherit", term: "3", payment: "inherit", coverage: " 62.5 " })).toMatchObject({
      enabled: null,
      term: 3,
      payment: null,
      coverage: "62.5",
      include_regions: ["us-east-1"],
    });
  });
});

describe("safeNext", () => {
  it("only returns same-site paths", () => {
    expect(safeNext("/settings/accounts?x=1")).toBe("/settings/accounts?x=1");
    expect(safeNext("//evil.example")).toBe("/");
    expect(safeNext("https://evil.example")).toBe("/");
    expect(safeNext("/login?next=/x")).toBe("/");
    expect(safeNext(null)).toBe("/");
  });
});
