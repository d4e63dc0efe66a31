import { describe, expect, it } from "vitest";
import { ApiError, errorMessage, unmatchedFieldErrors } from "./errors";

describe("ApiError", () => {
  it("maps the SPEC error body's fields to a lookup", () => {
    const error = new ApiError(400, {
      error: "invalid input",
      code: "validation_error",
      fields: [
        { field: "aws_role_arn", message: "account id must equal external_id" },
        { field: "aws_role_arn", message: "second message" },
        { field: "body.name", message: "required" },
      ],
    });
    expect(error.status).toBe(400);
    expect(error.code).toBe("validation_error");
    expect(error.message).toBe("invalid input");
    expect(error.fields).toEqual({ aws_role_arn: "account id must equal external_id", name: "required" });
    expect(unmatchedFieldErrors(error, ["name"])).toEqual(["aws_role_arn: account id must equal external_id"]);
  });

  it("copes with a body that is not a SPEC error", () => {
    const error = new ApiError(502, "<html>bad gateway</html>");
    expect(error.message).toBe("request failed (HTTP 502)");
    expect(error.fields).toEqual({});
    expect(errorMessage(error)).toBe("request failed (HTTP 502)");
  });
});
