// ReDoc at /docs/redoc: renders every operation of /docs/openapi.json (one operation heading
// per operation, each with its summary, under the document's tags).
// Env: EVALD_URL, ARTIFACTS_DIR.
import { check, fetchDocument, run, step } from "./lib.mjs";

await run("redoc", async ({ page, base, shot, timeout }) => {
  const { operations, tags } = await fetchDocument(base);

  step(`open ${base}/docs/redoc (${operations.length} operations in the document)`);
  const res = await page.goto(`${base}/docs/redoc`, { waitUntil: "load" });
  check(res.status() === 200, `GET /docs/redoc answered ${res.status()}`);
  // ReDoc renders each operation as a section "tag/<tag>/operation/<operationId>" (one per tag
  // it has; "operation/<operationId>" when it has none) holding an inner section
  // "operation/<operationId>", whose h2 heading is the summary.
  const sections = page.locator('[data-section-id^="operation/"]');
  await sections.first().waitFor({ timeout: timeout * 2 });
  const rendered = await sections.evaluateAll((els) => els.map((e) => ({
    id: e.getAttribute("data-section-id").slice("operation/".length),
    heading: e.querySelector("h2")?.textContent.trim() ?? "",
  })));
  const ids = new Set(rendered.map((r) => r.id));
  step(`${ids.size} operations rendered`);
  check(ids.size === operations.length,
    `ReDoc rendered ${ids.size} operations, the document has ${operations.length}`);

  step("every operation is there by its operationId, with its summary as heading");
  const missing = operations.filter((o) => !rendered.some((r) =>
    r.id === o.operationId && (!o.summary || r.heading === o.summary)))
    .map((o) => `${o.method} ${o.path} (${o.operationId}: ${o.summary})`);
  check(missing.length === 0, () => `operations not rendered:\n  ${missing.join("\n  ")}`);

  step("every tag is in the menu");
  const menu = (await page.locator('[role="menu"], .menu-content').first().innerText()).toLowerCase();
  const missingTags = tags.filter((t) => !menu.includes(t.toLowerCase()));
  check(missingTags.length === 0, `tags not in ReDoc's menu: ${missingTags.join(", ")}`);

  await shot("docs-redoc.png");
  const me = operations.find((o) => o.method === "GET" && o.path === "/auth/me");
  if (me) {
    await page.locator(`[data-section-id="operation/${me.operationId}"]`).scrollIntoViewIfNeeded();
    await shot("docs-redoc-auth-me.png");
  }
});
