// The dashboard in Debian's Chromium against the real local world: the worker under `wrangler
// dev` with its Durable Objects, queue and D1, the five demo MEC sites, the Bedrock stand-in and
// kinesalite (scripts/stack.mjs, as `npm start` runs them, but on free ports and with state of
// its own), fed by `npm run demo`. It logs in, reads the charts' data, explores a decision,
// breaks a site through the demo site's fault API and watches its breaker open, logs out, and
// fails on any console error, page error or failed request. Screenshots go to
// test/browser/screenshots/ (not committed).

import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type Browser,
  type BrowserContext,
  chromium,
  type Locator,
  type Page,
} from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildDashboard } from "../../scripts/build-dashboard.mjs";
import { OPERATOR_KEY, type Stack, startStack } from "../../scripts/stack.mjs";
import type {
  DecisionDetailAnswer,
  FleetAnswer,
  SummaryAnswer,
} from "../../shared/analytics-api.ts";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
// TOOLCHAIN.md: what Debian's Chromium needs in a container, and nothing that phones out.
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-dev-shm-usage",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-default-apps",
  "--disable-extensions",
];
const SCREENSHOTS = join(import.meta.dirname, "screenshots");
const DEMO_REQUESTS = 120;
const bearer = { authorization: `Bearer ${OPERATOR_KEY}` };

let stack: Stack | undefined;
let state: string | undefined;
let browser: Browser | undefined;
let context: BrowserContext;
let page: Page;
/** Decisions the demo left in the history. */
let decisions = 0;
const wranglerLog: string[] = [];
/** Console errors, page errors, failed requests and HTTP errors the page saw. */
const problems: string[] = [];

function base(): string {
  if (!stack) throw new Error("the local stack did not start");
  return stack.base;
}

async function api<T>(path: string): Promise<T> {
  const res = await fetch(`${base()}${path}`, { headers: bearer });
  if (!res.ok) throw new Error(`GET ${path}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** `npm run demo` against the stack; resolves with its output once it exits 0. */
function runDemo(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const demo = spawn(
      process.execPath,
      [
        "scripts/demo.mjs",
        "--url",
        url,
        "--requests",
        String(DEMO_REQUESTS),
        "--concurrency",
        "8",
        "--seed",
        "20261125",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    demo.stdout.setEncoding("utf8").on("data", (c: string) => (out += c));
    demo.stderr.setEncoding("utf8").on("data", (c: string) => (out += c));
    demo.on("error", reject);
    demo.on("exit", (code) =>
      code === 0 ? resolve(out) : reject(new Error(`npm run demo exited ${code}:\n${out}`)),
    );
  });
}

/**
 * Waits until the monitor has written the demo's history: decisions and outcomes no longer
 * change over a few seconds (longer than the queue's batch timeout). Returns the decisions.
 */
async function settledDecisions(): Promise<number> {
  let last = "";
  for (let i = 0; i < 15; i++) {
    // An explicit window of its own each time: the edge cache never answers it.
    const to = Date.now() + 60_000;
    const s = await api<SummaryAnswer>(`/v1/analytics/summary?from=${to - 3_600_000 - i}&to=${to}`);
    const now = `${s.totals.decisions}/${s.totals.outcomes}`;
    if (s.totals.outcomes > 0 && now === last) return s.totals.decisions;
    last = now;
    await new Promise((r) => setTimeout(r, 6_000));
  }
  throw new Error("the demo's history never settled in the analytics API");
}

/** A locator's text ("" when it has none). */
async function text(locator: Locator): Promise<string> {
  return (await locator.textContent()) ?? "";
}

/** A number as the dashboard prints it ("1,234", "56 ms", "$0.01") or NaN. */
function numberIn(text: string): number {
  return Number(text.replace(/[^\d.-]/g, ""));
}

/** Waits for the current view's load to finish without an error. */
async function loaded(): Promise<void> {
  await page.waitForFunction(() => {
    const view = document.getElementById("view");
    const status = document.getElementById("status");
    return view && !view.hasAttribute("aria-busy") && status?.textContent?.startsWith("Updated");
  });
}

async function screenshot(name: string): Promise<void> {
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

/** Pixels of the chart's canvas within a small distance of `rgb` (the series' colour). */
async function pixelsOf(chart: string, rgb: [number, number, number]): Promise<number> {
  return page.locator(`[data-chart="${chart}"] canvas`).evaluate((node, [r, g, b]) => {
    if (!(node instanceof HTMLCanvasElement)) return -1;
    const ctx = node.getContext("2d");
    if (!ctx) return -1;
    const { data } = ctx.getImageData(0, 0, node.width, node.height);
    let n = 0;
    for (let i = 0; i < data.length; i += 4) {
      const d =
        Math.abs((data[i] ?? 0) - r) +
        Math.abs((data[i + 1] ?? 0) - g) +
        Math.abs((data[i + 2] ?? 0) - b);
      if (d < 60 && (data[i + 3] ?? 0) > 200) n += 1;
    }
    return n;
  }, rgb);
}

/** The local world on free ports with state of its own, and the demo's traffic through it. */
async function startWorld(dir: string): Promise<void> {
  stack = await startStack({
    dir,
    // Probes every second: a broken site's breaker opens within seconds, not half a minute.
    vars: { SITE_PROBE_INTERVAL_MS: "1000" },
    output: (chunk) => {
      wranglerLog.push(chunk);
      if (wranglerLog.length > 400) wranglerLog.shift();
    },
  });
  await runDemo(stack.base);
  decisions = await settledDecisions();
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Chromium is not at ${CHROMIUM}: the browser test needs Debian's chromium ` +
        "(`apt-get install -y chromium`; .ci/run installs it), or CHROMIUM_PATH pointing at one.",
    );
  }
  await buildDashboard({ log: false });
  mkdirSync(SCREENSHOTS, { recursive: true });
  state = mkdtempSync(join(tmpdir(), "mec-router-browser-"));
  try {
    await startWorld(state);
  } catch (err) {
    // What wrangler said last is where a failed start or a failing demo shows why.
    console.error(`wrangler dev's last output:\n${wranglerLog.join("").slice(-8_000)}`);
    throw err;
  }
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  context = await browser.newContext({
    viewport: { width: 1440, height: 900 },
    locale: "en-US",
    timezoneId: "UTC",
  });
  page = await context.newPage();
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console error: ${m.text()} (${m.location().url})`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("requestfailed", (r) =>
    problems.push(`request failed: ${r.method()} ${r.url()} ${r.failure()?.errorText}`),
  );
  page.on("response", (r) => {
    if (r.status() >= 400) problems.push(`HTTP ${r.status()}: ${r.request().method()} ${r.url()}`);
  });
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await stack?.stop();
  if (state) rmSync(state, { recursive: true, force: true });
}, 60_000);

describe("the dashboard against the local stack", () => {
  it("is served as static assets under a strict Content-Security-Policy", async () => {
    const redirect = await fetch(`${base()}/dashboard`, { redirect: "manual" });
    expect([301, 302, 307, 308]).toContain(redirect.status);
    expect(redirect.headers.get("location")).toMatch(/\/dashboard\/$/);
    const res = await fetch(`${base()}/dashboard/`);
    expect(res.status).toBe(200);
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain("unsafe-inline");
    const html = await res.text();
    // Every script is a file; no inline script or style, no third-party URL.
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/<style|style=/);
    expect(html).not.toMatch(/https?:\/\//);
  });

  it("logs in with the operator key, which ends up in no URL and no storage", async () => {
    await page.goto(`${base()}/dashboard/`);
    await page.getByLabel("Operator key").waitFor();
    await screenshot("login");
    await page.getByLabel("Operator key").fill(OPERATOR_KEY);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.locator("[data-table=tiers]").waitFor();
    await loaded();
    expect(await text(page.locator("#who"))).toBe("platform operator");
    expect(page.url()).not.toContain(OPERATOR_KEY);
    const cookies = await context.cookies();
    expect(cookies.map((c) => c.name)).toEqual(["__Host-mec_session"]);
    expect(cookies[0]).toMatchObject({
      httpOnly: true,
      secure: true,
      sameSite: "Strict",
      path: "/",
    });
    expect(cookies[0]?.value).not.toContain(OPERATOR_KEY);
    const stored = await page.evaluate(() => [
      JSON.stringify({ ...localStorage }),
      JSON.stringify({ ...sessionStorage }),
      document.cookie,
    ]);
    expect(stored).toEqual(["{}", "{}", ""]);
  });

  it("shows the demo's traffic: headline numbers, tier split and charts with data", async () => {
    const requests = page
      .locator(".tile")
      .filter({ has: page.locator(".tile-label", { hasText: /^Requests$/ }) })
      .locator(".tile-value");
    expect(numberIn(await text(requests))).toBe(decisions);
    // The tier split sums to the total.
    const tierRows = page.locator("[data-table=tiers] tbody tr");
    await expect.poll(() => tierRows.count()).toBe(4);
    let sum = 0;
    for (const tier of ["device", "mec", "cloud"]) {
      const row = tierRows.filter({
        has: page.locator("td", { hasText: new RegExp(`^${tier}$`) }),
      });
      sum += numberIn(await text(row.locator("td").nth(1)));
    }
    expect(sum).toBe(decisions);

    // The requests chart: its data table holds the same total, and its line is on the canvas.
    const chart = page.locator('[data-chart="requests"]');
    await chart.getByText("Data table").click();
    await chart.locator(".chart-data table").waitFor();
    const allColumn = await chart.locator(".chart-data tbody td:nth-of-type(1)").allTextContents();
    expect(allColumn.length).toBeGreaterThanOrEqual(60);
    expect(allColumn.reduce((n, v) => n + (Number.isNaN(numberIn(v)) ? 0 : numberIn(v)), 0)).toBe(
      decisions,
    );
    expect(await pixelsOf("requests", [0x33, 0x41, 0x55])).toBeGreaterThan(30);
    // SLA attainment and cost were measured too: some bucket holds a value.
    for (const id of ["sla", "cost"]) {
      const summary = await text(page.locator(`[data-chart="${id}"] .chart-summary`));
      expect(summary, id).toMatch(/\d/);
    }
    expect(await pixelsOf("cost", [0x1d, 0x4e, 0xd8])).toBeGreaterThan(10);
    await screenshot("overview");
  });

  it("shows latency percentiles per tier and per site", async () => {
    await page.getByRole("link", { name: "Latency" }).click();
    await page.locator("[data-table=targets]").waitFor();
    await loaded();
    const sites = page.locator('[data-table=targets] tbody tr[data-target^="site:"]');
    expect(await sites.count()).toBeGreaterThan(0);
    const p50 = numberIn(await text(sites.first().locator("td").nth(2)));
    expect(p50).toBeGreaterThan(0);
    expect(await pixelsOf("latency", [0x1d, 0x4e, 0xd8])).toBeGreaterThan(10);
    await screenshot("latency");
  });

  it("opens a decision in the explorer: rationale, rejections, plan and outcome", async () => {
    await page.getByRole("link", { name: "Decisions" }).click();
    await page.locator("[data-table=decisions]").waitFor();
    await loaded();
    // Only executed ones: filter on the outcome.
    await page.getByLabel("Outcome").selectOption("ok");
    await page.getByRole("button", { name: "Apply" }).click();
    await loaded();
    const rows = page.locator("[data-table=decisions] tbody tr");
    expect(await rows.count()).toBeGreaterThan(0);
    for (const text of await rows.locator("td:last-child").allTextContents()) {
      expect(text).toMatch(/^(ok|failover), /);
    }
    const first = rows.first();
    const id = (await first.getAttribute("data-decision")) ?? "";
    await first.getByRole("button").click();
    const panel = page.locator(`section[data-decision="${id}"]`);
    await panel.waitFor();
    expect(page.url()).toContain(`#/decisions/${id}`);

    const truth = await api<DecisionDetailAnswer>(`/v1/analytics/decisions/${id}`);
    await expect
      .poll(() => panel.locator(".rationale li").count())
      .toBe(truth.decision.rationale.length);
    expect(truth.decision.rationale.length).toBeGreaterThan(0);
    const plan = panel.locator("[data-table=plan] tbody tr");
    expect(await plan.count()).toBe(truth.decision.plan?.length ?? 0);
    expect(await text(plan.first())).toContain(truth.decision.target);
    if (truth.decision.rejected.length > 0) {
      expect(await panel.locator("[data-table=rejected] tbody tr").count()).toBe(
        truth.decision.rejected.length,
      );
    }
    expect(await panel.locator(".outcomes > li").count()).toBe(truth.outcomes.length);
    expect(await panel.locator(".outcomes > li").last().getAttribute("data-outcome")).toBe("ok");
    await screenshot("decision");
  });

  it("compares policy variants, and shows Nova usage and anomalies", async () => {
    await page.getByRole("link", { name: "Policies" }).click();
    await page.locator("[data-table=policies]").waitFor();
    await loaded();
    // No experiment configured: every decision of the demo under the default policy.
    const variant = page.locator('[data-table=policies] tr[data-variant="default"]');
    expect(numberIn(await text(variant.locator("td").first()))).toBe(decisions);
    await screenshot("policies");

    await page.getByRole("link", { name: "Nova" }).click();
    await page.locator("[data-table=nova]").waitFor();
    await loaded();
    const roles = await page.locator("[data-table=nova] tbody tr td:first-child").allTextContents();
    expect(roles).toEqual(["micro", "lite", "pro", "review"]);

    await page.getByRole("link", { name: "Anomalies" }).click();
    await loaded();
    // A fresh stack has no baseline to deviate from yet: the view says so.
    const anomalies = await page.locator("[data-table=anomalies] tbody tr").count();
    if (anomalies === 0) await page.getByText("No anomaly in this range.").waitFor();
  });

  it("shows a site's breaker turn OPEN after faults are injected at it", async () => {
    await page.getByRole("link", { name: "Fleet" }).click();
    await page.locator("[data-table=sites]").waitFor();
    await loaded();
    await page.getByLabel("Auto-refresh").selectOption("5");

    // A site whose breaker is closed now, per the API and on the page.
    let victim: string | undefined;
    for (let i = 0; i < 20 && !victim; i++) {
      const fleet = await api<FleetAnswer>("/v1/analytics/fleet");
      victim = fleet.sites.find((s) => s.breaker === "closed" && s.healthy)?.id;
      if (!victim) await new Promise((r) => setTimeout(r, 2_000));
    }
    if (!victim) throw new Error("no site with a closed breaker to break");
    const row = page.locator(`[data-table=sites] tr[data-site="${victim}"]`);
    const breaker = () => text(row.locator("[data-breaker]"));
    await expect.poll(breaker, { timeout: 30_000 }).toBe("CLOSED");
    await screenshot("fleet-before");

    // The demo site's fault API: the site goes dark (connections cut, /health 503).
    const site = stack?.demoSites.find((d) => d.state.id === victim);
    if (!site) throw new Error(`no demo site ${victim}`);
    const res = await fetch(`${site.url}/control/faults`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ dark: true }),
    });
    expect(res.status).toBe(200);

    await expect.poll(breaker, { timeout: 60_000, interval: 500 }).toBe("OPEN");
    const marker = page.locator(`svg.map g.site[data-site="${victim}"]`);
    expect(await marker.getAttribute("data-state")).toBe("open");
    const openTile = page
      .locator(".tile")
      .filter({ has: page.locator(".tile-label", { hasText: /^Open$/ }) })
      .locator(".tile-value");
    expect(numberIn(await text(openTile))).toBeGreaterThanOrEqual(1);
    // Its site agent's own view (auto-refresh off first: a click during a load abandons it).
    await page.getByLabel("Auto-refresh").selectOption("0");
    await loaded();
    await row.getByRole("button", { name: victim }).click();
    await expect.poll(() => text(page.locator(`[data-site-detail="${victim}"]`))).toContain("OPEN");
    await loaded();
    await screenshot("fleet-open");
  });

  it("logs out: the cookie is gone and the login form is back", async () => {
    await loaded();
    await page.getByRole("button", { name: "Log out" }).click();
    await page.getByLabel("Operator key").waitFor();
    expect(await context.cookies()).toEqual([]);
    const session = await page.evaluate(async () => (await fetch("/v1/session")).json());
    expect(session).toEqual({ session: null });
  });

  it("shows a tenant's operator its own decisions and the fleet, not fleet-wide aggregates", async () => {
    const tenant = `acme-${Date.now().toString(36)}`;
    const post = (path: string, body: unknown) =>
      fetch(`${base()}${path}`, {
        method: "POST",
        headers: { ...bearer, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
    expect((await post("/v1/tenants", { id: tenant, name: "Acme Mobile" })).status).toBe(201);
    const issued = await post("/v1/keys", { tenant, scope: "operator", name: "acme admin" });
    expect(issued.status).toBe(201);
    const { key } = (await issued.json()) as { key: string };

    // Asked for the overview, it gets its default view instead.
    await page.goto(`${base()}/dashboard/#/overview`);
    await page.getByLabel("Operator key").fill(key);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.locator("#decisions-title").waitFor();
    await loaded();
    expect(new URL(page.url()).hash).toBe("#/decisions");
    expect(await text(page.locator("#who"))).toBe(`tenant ${tenant}`);
    const tabs = await page.locator("#tabs a:not([hidden])").allTextContents();
    expect(tabs).toEqual(["Fleet", "Anomalies", "Decisions", "Policies"]);
    // The demo ran under the platform's keys: none of it is this tenant's.
    await page.getByText("No decision matches in this range.").waitFor();
    await page.getByRole("link", { name: "Fleet" }).click();
    await page.locator("[data-table=sites]").waitFor();
    await loaded();
    await screenshot("tenant-fleet");
    await page.getByRole("button", { name: "Log out" }).click();
    await page.getByLabel("Operator key").waitFor();
  });

  it("logged no console error, page error or failed request", () => {
    expect(problems).toEqual([]);
  });
});
