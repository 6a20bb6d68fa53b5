// What the browser tests share: Debian's Chromium driven by playwright-core (which never
// downloads a browser), a page that may reach only the loopback, the console errors and
// Content-Security-Policy violations it saw, screenshots, and assertions that fail with a clear
// message. Settings come from the environment (tests/functional/test_browser.py sets them):
//   EVALD_URL        the server, e.g. http://127.0.0.1:8080 (required)
//   CHROMIUM_PATH    the browser (default /usr/bin/chromium)
//   ARTIFACTS_DIR    where screenshots go (default test-artifacts/browser)
//   BROWSER_TIMEOUT_MS  the default timeout of each wait (default 45000: a busy 2-core machine)
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";

export class Failure extends Error {}

export function fail(message) {
  throw new Failure(message);
}

export function check(condition, message) {
  if (!condition) fail(typeof message === "function" ? message() : message);
}

export function env(name, fallback) {
  const v = process.env[name];
  if (v === undefined || v === "") {
    if (fallback === undefined) fail(`the environment variable ${name} is not set`);
    return fallback;
  }
  return v;
}

export function step(text) {
  console.log(`- ${text}`);
}

const LOCAL_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);

// The page's requests that are not to the loopback, each aborted before it is sent.
function isLocal(url) {
  let u;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if (u.protocol === "data:" || u.protocol === "blob:" || u.protocol === "about:") return true;
  return LOCAL_HOSTS.has(u.hostname);
}

// Runs `body({page, base, shot, ...})` in one headless Chromium; prints what it did, and exits
// non-zero with the reason when an assertion fails, a request left the loopback, the page threw,
// or the console reported an error (a CSP violation among them).
export async function run(name, body, options = {}) {
  const base = env("EVALD_URL").replace(/\/$/, "");
  const artifacts = resolve(env("ARTIFACTS_DIR", "test-artifacts/browser"));
  const timeout = Number(env("BROWSER_TIMEOUT_MS", "45000"));
  mkdirSync(artifacts, { recursive: true });

  const offsite = [];
  const consoleErrors = [];
  const pageErrors = [];
  const shots = [];
  let browser;
  let page;
  let failure = null;
  try {
    browser = await chromium.launch({
      executablePath: env("CHROMIUM_PATH", "/usr/bin/chromium"),
      headless: true,
      timeout,
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-dev-shm-usage", "--no-first-run", "--disable-component-update"],
    });
    const context = await browser.newContext({
      viewport: { width: 1280, height: 900 },
      serviceWorkers: "block",
      locale: "en-US",
    });
    context.setDefaultTimeout(timeout);
    await context.route("**/*", (route) => {
      const url = route.request().url();
      if (isLocal(url)) return route.continue();
      offsite.push(`${route.request().method()} ${url}`);
      return route.abort("blockedbyclient");
    });
    // Injected through the DevTools protocol, so the page's CSP does not stop it.
    await context.addInitScript(() => {
      window.__cspViolations = [];
      document.addEventListener("securitypolicyviolation", (e) => {
        window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || "(inline)"}` +
          (e.sourceFile ? ` at ${e.sourceFile}:${e.lineNumber}` : ""));
      });
    });
    page = await context.newPage();
    page.on("console", (m) => {
      if (m.type() !== "error") return;
      const text = m.text();
      if ((options.expectedConsoleErrors ?? []).some((re) => re.test(text))) return;
      consoleErrors.push(text);
    });
    page.on("pageerror", (e) => pageErrors.push(String(e && e.stack ? e.stack : e)));

    const shot = async (file, opts = {}) => {
      const path = join(artifacts, file);
      await page.screenshot({ path, ...opts });
      shots.push(path);
      console.log(`  screenshot: ${path}`);
    };
    const cspViolations = async () => page.evaluate(() => window.__cspViolations ?? []);
    await body({ page, base, shot, timeout, cspViolations });

    check(offsite.length === 0, () =>
      `the page tried to reach beyond the loopback (blocked):\n  ${offsite.join("\n  ")}`);
    const csp = await cspViolations();
    check(csp.length === 0, () => `Content-Security-Policy violations:\n  ${csp.join("\n  ")}`);
    check(pageErrors.length === 0, () => `uncaught errors in the page:\n  ${pageErrors.join("\n  ")}`);
    check(consoleErrors.length === 0, () =>
      `errors in the browser console:\n  ${consoleErrors.join("\n  ")}`);
  } catch (e) {
    failure = e;
  }
  if (failure && page) {
    try {
      const path = join(artifacts, `${name}-failure.png`);
      await page.screenshot({ path, fullPage: false });
      console.log(`  screenshot at failure: ${path}`);
    } catch {
      // the page may be gone; the message below says why
    }
  }
  if (browser) await browser.close().catch(() => {});
  if (failure) {
    const what = failure instanceof Failure ? failure.message : (failure.stack ?? String(failure));
    console.error(`FAIL ${name}: ${what}`);
    if (offsite.length) console.error(`requests blocked (not to the loopback):\n  ${offsite.join("\n  ")}`);
    if (consoleErrors.length) console.error(`console errors:\n  ${consoleErrors.join("\n  ")}`);
    if (pageErrors.length) console.error(`page errors:\n  ${pageErrors.join("\n  ")}`);
    process.exit(1);
  }
  console.log(`PASS ${name} (${shots.length} screenshot${shots.length === 1 ? "" : "s"})`);
}

// The OpenAPI document's tags (those used by an operation, and those declared) and operations.
export async function fetchDocument(base) {
  const res = await fetch(`${base}/docs/openapi.json`);
  check(res.ok, `GET /docs/openapi.json answered ${res.status}`);
  const doc = await res.json();
  const methods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
  const operations = [];
  for (const [path, item] of Object.entries(doc.paths ?? {})) {
    for (const m of methods) {
      if (item[m]) operations.push({ method: m.toUpperCase(), path, ...item[m] });
    }
  }
  const tags = new Set((doc.tags ?? []).map((t) => t.name));
  for (const op of operations) for (const t of op.tags ?? []) tags.add(t);
  check(operations.length > 0, "the OpenAPI document has no operation");
  return { doc, operations, tags: [...tags] };
}
