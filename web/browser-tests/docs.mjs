// Swagger UI at /docs/: every tag and operation of /docs/openapi.json is listed; Authorize with
// the OAuth2 password flow signs in; "Try it out" on GET /auth/me answers 200 with the user.
// Env: EVALD_URL, EVALD_LOGIN_ID, EVALD_PASSWORD (an existing account), ARTIFACTS_DIR.
import { check, env, fetchDocument, run, step } from "./lib.mjs";

const loginId = env("EVALD_LOGIN_ID");
const password = env("EVALD_PASSWORD");

await run("docs", async ({ page, base, shot, timeout }) => {
  const { operations, tags } = await fetchDocument(base);

  step(`open ${base}/docs/ (${tags.length} tags, ${operations.length} operations in the document)`);
  const res = await page.goto(`${base}/docs/`, { waitUntil: "load" });
  check(res.status() === 200, `GET /docs/ answered ${res.status()}`);
  // The first render parses a 1.5 MB bundle and the document: slow on a busy machine.
  await page.locator(".swagger-ui .information-container .title").waitFor({ timeout: timeout * 2 });
  await page.locator(".opblock").first().waitFor({ timeout: timeout * 2 });
  const title = (await page.locator(".information-container .title").innerText()).trim();
  check(title.length > 0, "Swagger UI shows no title");
  // Served from any host but localhost, Swagger UI would load a badge from validator.swagger.io
  // (refused by the policy) unless the validator is off.
  const validator = await page.evaluate(() => window.ui.getConfigs().validatorUrl);
  check(validator === null || validator === "none",
    `Swagger UI's online validator is on (${validator}): its badge would load from elsewhere`);

  step("every tag of the document is a section of the page");
  const shownTags = await page.locator("h3.opblock-tag").evaluateAll((els) =>
    els.map((e) => e.getAttribute("data-tag")));
  const missingTags = tags.filter((t) => !shownTags.includes(t));
  check(missingTags.length === 0, `tags of the document not on the page: ${missingTags.join(", ")}`);

  step("every operation (method and path) is listed");
  const shownOps = new Set(await page.locator(".opblock").evaluateAll((els) =>
    els.map((e) => {
      const method = e.querySelector(".opblock-summary-method")?.textContent.trim();
      const path = e.querySelector(".opblock-summary-path")?.getAttribute("data-path");
      return `${method} ${path}`;
    })));
  const missingOps = operations.map((o) => `${o.method} ${o.path}`).filter((k) => !shownOps.has(k));
  check(missingOps.length === 0,
    () => `${missingOps.length} operations of the document not listed:\n  ${missingOps.join("\n  ")}`);
  const extra = [...shownOps].filter((k) => !operations.some((o) => `${o.method} ${o.path}` === k));
  check(extra.length === 0, `operations listed that the document lacks: ${extra.join(", ")}`);
  await shot("docs-swagger-ui.png");

  step("Authorize: the OAuth2 password flow with a real login");
  await page.locator(".auth-wrapper button.authorize").click();
  const dialog = page.locator(".dialog-ux .modal-ux");
  await dialog.waitFor();
  const oauth = dialog.locator(".auth-container").filter({ has: page.locator("#oauth_username") });
  check(await oauth.count() === 1, "the Authorize dialog has no OAuth2 password form");
  await oauth.locator("#oauth_username").fill(loginId);
  await oauth.locator("#oauth_password").fill(password);
  const tokenResponse = page.waitForResponse((r) =>
    new URL(r.url()).pathname === "/auth/login" && r.request().method() === "POST");
  await oauth.locator("button.authorize").click();
  const token = await tokenResponse;
  if (token.status() !== 200) {
    check(false, `the token request answered ${token.status()}: ${(await token.text()).slice(0, 400)}`);
  }
  const authorized = dialog.locator(".auth-container").filter({ hasText: "Authorized" });
  await authorized.first().waitFor();
  const errors = await dialog.locator(".auth-container .errors").allInnerTexts();
  check(errors.length === 0, `the Authorize dialog reports errors: ${errors.join("; ")}`);
  check(await dialog.locator("button", { hasText: "Logout" }).count() >= 1,
    "the dialog shows no Logout button after authorizing");
  await authorized.first().scrollIntoViewIfNeeded();
  await shot("docs-authorized.png");
  await dialog.locator("button.btn-done, button.close-modal").first().click();
  await dialog.waitFor({ state: "detached" });

  step("GET /auth/me: Try it out, Execute, 200 with the user");
  const me = page.locator(".opblock.opblock-get").filter({
    has: page.locator('.opblock-summary-path[data-path="/auth/me"]'),
  }).first();
  await me.locator(".opblock-summary-control").click();
  await me.locator(".opblock-body").waitFor();
  const tryOut = me.locator("button.try-out__btn");
  if (await tryOut.count() && (await tryOut.innerText()).trim() === "Try it out") await tryOut.click();
  const apiCall = page.waitForResponse((r) =>
    new URL(r.url()).pathname === "/auth/me" && r.request().method() === "GET");
  await me.locator("button.execute").click();
  const call = await apiCall;
  check((call.request().headers().authorization ?? "").startsWith("Bearer "),
    "Swagger UI sent GET /auth/me without the bearer token it was authorized with");
  const live = me.locator(".live-responses-table");
  await live.waitFor();
  const status = (await live.locator("tbody .response-col_status").first().innerText()).trim();
  check(status === "200", `the response panel shows status ${status}, not 200`);
  const shown = await live.locator("tbody .response-col_description").first().innerText();
  check(shown.includes(`"login_id": "${loginId}"`),
    `the response panel does not show the user ${loginId}: ${shown.slice(0, 400)}`);
  await live.scrollIntoViewIfNeeded();
  await shot("docs-try-auth-me.png");
});
