// The /status page: served without auth; a non-admin's sign-in is refused with a message; the
// admin signs in, sees the dependency cards (the database ok) and the charts drawn with data
// (the caller made some traffic and a failed login first); signing out hides the dashboard.
// Env: EVALD_URL, EVALD_LOGIN_ID, EVALD_PASSWORD (an admin), EVALD_USER_LOGIN_ID,
// EVALD_USER_PASSWORD (a non-admin), ARTIFACTS_DIR.
import { check, env, run, step } from "./lib.mjs";

const admin = { login: env("EVALD_LOGIN_ID"), password: env("EVALD_PASSWORD") };
const user = { login: env("EVALD_USER_LOGIN_ID"), password: env("EVALD_USER_PASSWORD") };
const DRAWN = ["request_rate", "latency", "failed_logins"];
const STATES = ["ok", "degraded", "down", "fallback", "disabled"];

async function signIn(page, who) {
  await page.locator("#login-id").fill(who.login);
  await page.locator("#password").fill(who.password);
  await page.locator('#login-form [type="submit"], #login-form button').first().click();
}

// The refused sign-in's 401/403 is expected in the console; nothing else is.
const refused = /Failed to load resource: the server responded with a status of 40[13]/;

await run("status", async ({ page, base, shot, timeout }) => {
  step(`open ${base}/status`);
  const res = await page.goto(`${base}/status`, { waitUntil: "load" });
  check(res.status() === 200, `GET /status answered ${res.status()}`);
  await page.locator("#login-form").waitFor();
  check(!(await page.locator("#dashboard").isVisible()), "the dashboard shows before sign-in");

  step(`a non-admin (${user.login}) is refused with a message`);
  await signIn(page, user);
  const error = page.locator("#login-error");
  await error.waitFor({ state: "visible" });
  await page.waitForFunction(() =>
    (document.querySelector("#login-error")?.textContent ?? "").trim().length > 0);
  check(!(await page.locator("#dashboard").isVisible()), "a non-admin sees the dashboard");
  step(`  says: ${(await error.innerText()).trim()}`);
  await shot("status-refused.png");

  step(`the admin (${admin.login}) signs in`);
  await signIn(page, admin);
  await page.locator("#dashboard").waitFor({ state: "visible" });
  await page.locator("#logout").waitFor({ state: "visible" });

  step("the dependency cards, the database ok");
  const deps = page.locator(".dep[data-name]");
  await deps.first().waitFor();
  const cards = await deps.evaluateAll((els) =>
    els.map((e) => ({ name: e.dataset.name, state: e.dataset.state })));
  step(`  ${cards.map((c) => `${c.name}=${c.state}`).join(" ")}`);
  for (const name of ["database", "redis", "mail", "disk"]) {
    const card = cards.find((c) => c.name === name);
    check(card, `no dependency card for ${name}`);
    check(STATES.includes(card.state), `the ${name} card's state is "${card.state}"`);
  }
  check(cards.find((c) => c.name === "database").state === "ok",
    "the database card is not ok");

  step(`the charts ${DRAWN.join(", ")} draw lines (data refreshes every 5 s)`);
  const lines = (series) =>
    `svg.chart[data-series="${series}"] path.line, svg.chart[data-series="${series}"] polyline`;
  try {
    await page.waitForFunction((sels) => sels.every((s) => document.querySelector(s)),
      DRAWN.map(lines), { timeout: Math.max(timeout, 30000) });
  } catch {
    const drawn = await page.locator("svg.chart").evaluateAll((els) => els.map((e) =>
      `${e.dataset.series}: ${e.querySelectorAll("path.line, polyline").length} lines`));
    check(false, `charts without lines after 30 s: ${drawn.join("; ") || "no svg.chart at all"}`);
  }
  for (const series of ["errors", "rate_limit_refusals"]) {
    check(await page.locator(`svg.chart[data-series="${series}"]`).count() === 1,
      `no chart for ${series}`);
  }
  await shot("status-dashboard.png", { fullPage: true });

  step("sign out: the form again");
  await page.locator("#logout").click();
  await page.locator("#login-form").waitFor({ state: "visible" });
  check(!(await page.locator("#dashboard").isVisible()), "the dashboard stays after sign-out");
}, { expectedConsoleErrors: [refused] });
