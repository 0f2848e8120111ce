/**
 * src/openapi.ts (which the client's event and answer types come from) must
 * be exactly what openapi-typescript makes of the live server's
 * /openapi.json: a field added, removed, retyped or made optional on the
 * server fails this test until `npm run generate` is run and committed.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, it } from "node:test";
import { pathToFileURL } from "node:url";
import { Stack, packageRoot } from "./stack.js";

let stack: Stack;
before(async () => {
  stack = await Stack.start();
});
after(async () => {
  await stack?.stop();
});

interface Generator {
  generate(document: unknown): Promise<string>;
  normalize(document: unknown): unknown;
}

async function generator(): Promise<Generator> {
  return (await import(pathToFileURL(join(packageRoot, "scripts", "generate-openapi.mjs")).href)) as Generator;
}

it("src/openapi.ts is what the live server's /openapi.json generates", async () => {
  const response = await fetch(`${stack.baseUrl}/openapi.json`);
  assert.equal(response.status, 200);
  const document = (await response.json()) as { paths: Record<string, unknown> };
  for (const path of ["/api/v2/sync/pull", "/api/v2/sync/state", "/api/v2/sync/reset"]) {
    assert.ok(path in document.paths, `${path} is in the server's OpenAPI`);
  }
  const expected = await (await generator()).generate(document);
  const committed = readFileSync(join(packageRoot, "src", "openapi.ts"), "utf8");
  if (committed !== expected) {
    const a = committed.split("\n");
    const b = expected.split("\n");
    const line = a.findIndex((text, i) => text !== b[i]);
    assert.fail(
      `src/openapi.ts differs from the server's OpenAPI (first at line ${line + 1}:\n` +
        `  committed: ${a[line]}\n  server:    ${b[line]})\n` +
        "run `npm run generate` in clients/typescript and commit src/openapi.ts",
    );
  }
});

it("the normalisation drops prose only, never a property named like a keyword", async () => {
  const { normalize } = await generator();
  const schema = {
    description: "prose",
    properties: { title: { type: "string", title: "Title" }, description: { type: "string" } },
    required: ["title"],
    examples: [{ title: "x" }],
  };
  assert.deepEqual(normalize(schema), {
    properties: { title: { type: "string" }, description: { type: "string" } },
    required: ["title"],
  });
});
