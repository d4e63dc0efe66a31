// Prepend the sha256 of openapi.json to the generated types, so a test can tell that
// src/api/schema.ts was generated from the checked-in document (tests/spa/test_client_drift.py).
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";

const doc = readFileSync("openapi.json");
const digest = createHash("sha256").update(doc).digest("hex");
const target = "src/api/schema.ts";
const body = readFileSync(target, "utf8").replace(/^\/\/ openapi\.json sha256: [0-9a-f]+\n/, "");
writeFileSync(target, `// openapi.json sha256: ${digest}\n${body}`);
