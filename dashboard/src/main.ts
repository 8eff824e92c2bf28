// The dashboard shell: login and logout, the view chosen by the URL hash (#/overview,
// #/decisions/<id>, …), the time range, auto-refresh (paused while the tab is hidden), and one
// place where loads and their errors are reported.

import "uplot/dist/uPlot.min.css";
import "./style.css";
import { ApiError, currentSession, login, logout, SessionEnded, type SessionView } from "./api.ts";
import { fill } from "./dom.ts";
import { time } from "./format.ts";
import { RANGE_MS, type RangeName, type Shell, type View } from "./view.ts";
import { anomaliesView } from "./views/anomalies.ts";
import { decisionsView } from "./views/decisions.ts";
import { fleetView } from "./views/fleet.ts";
import { latencyView } from "./views/latency.ts";
import { novaView } from "./views/nova.ts";
import { overviewView } from "./views/overview.ts";
import { policiesView } from "./views/policies.ts";

/** Views over fleet-wide aggregates (every tenant's traffic) are the platform operators'. */
const PLATFORM_ONLY = new Set(["overview", "latency", "nova"]);

const VIEWS: Record<string, (shell: Shell) => View> = {
  overview: overviewView,
  latency: latencyView,
  fleet: fleetView,
  anomalies: anomaliesView,
  decisions: decisionsView,
  nova: novaView,
  policies: policiesView,
};

function byId<T extends HTMLElement>(id: string, type: new () => T): T {
  const el = document.getElementById(id);
  if (!(el instanceof type)) throw new Error(`dashboard: #${id} is missing`);
  return el;
}

const ui = {
  controls: byId("controls", HTMLDivElement),
  tabs: byId("tabs", HTMLElement),
  range: byId("range", HTMLSelectElement),
  refresh: byId("refresh", HTMLSelectElement),
  refreshNow: byId("refresh-now", HTMLButtonElement),
  status: byId("status", HTMLSpanElement),
  who: byId("who", HTMLSpanElement),
  logout: byId("logout", HTMLButtonElement),
  login: byId("login", HTMLElement),
  loginForm: byId("login-form", HTMLFormElement),
  loginKey: byId("login-key", HTMLInputElement),
  loginError: byId("login-error", HTMLParagraphElement),
  view: byId("view", HTMLDivElement),
  main: byId("main", HTMLElement),
};

interface Route {
  name: string;
  param: string | undefined;
}

/** The views this session may open, and the one it starts on. */
let allowed: string[] = Object.keys(VIEWS);
let home = "overview";

function parseRoute(): Route {
  const [name = "", param] = location.hash.replace(/^#\/?/, "").split("/");
  return {
    name: allowed.includes(name) ? name : home,
    param: param ? decodeURIComponent(param) : undefined,
  };
}

let route = parseRoute();

/** Puts the route into the URL, e.g. after a view this session may not open was replaced. */
function showRoute(): void {
  const hash = `#/${route.name}${route.param ? `/${encodeURIComponent(route.param)}` : ""}`;
  // No new history entry and no hashchange: the view already shows it.
  if (location.hash !== hash) history.replaceState(null, "", hash);
}
let view: View | undefined;
let viewName = "";
let inFlight: AbortController | undefined;
let timer: ReturnType<typeof setTimeout> | undefined;
let signedIn = false;

const shell: Shell = {
  refresh: () => void load(),
  setParam(param) {
    route = { ...route, param };
    showRoute();
  },
  fail: (err) => report(err),
};

function setStatus(text: string, error = false): void {
  ui.status.textContent = text;
  ui.status.classList.toggle("error", error);
}

function report(err: unknown): void {
  if (err instanceof DOMException && err.name === "AbortError") return;
  if (err instanceof SessionEnded) {
    showLogin("Your session has ended. Log in again.");
    return;
  }
  const message =
    err instanceof ApiError
      ? `${err.message} (${err.code})`
      : err instanceof Error
        ? err.message
        : String(err);
  setStatus(`Could not load: ${message}`, true);
}

function isRange(v: string): v is RangeName {
  return v in RANGE_MS;
}

function range(): RangeName {
  const v = ui.range.value;
  return isRange(v) ? v : "1h";
}

function schedule(): void {
  clearTimeout(timer);
  const seconds = Number(ui.refresh.value);
  if (!signedIn || !(seconds > 0) || document.hidden) return;
  timer = setTimeout(() => void load(), seconds * 1000);
}

/** Loads (or reloads) the current view; an older load still running is abandoned. */
async function load(): Promise<void> {
  if (!signedIn) return;
  clearTimeout(timer);
  inFlight?.abort();
  const controller = new AbortController();
  inFlight = controller;
  if (viewName !== route.name || !view) {
    view?.destroy?.();
    const make = VIEWS[route.name] ?? overviewView;
    view = make(shell);
    viewName = route.name;
    fill(ui.view, view.el);
    document.title = `${view.title} · mec-router`;
    for (const a of ui.tabs.querySelectorAll("a")) {
      if (a.getAttribute("href") === `#/${route.name}`) a.setAttribute("aria-current", "page");
      else a.removeAttribute("aria-current");
    }
  }
  setStatus("Loading…");
  ui.view.setAttribute("aria-busy", "true");
  try {
    await view.load({ range: range(), signal: controller.signal, param: route.param });
    if (inFlight === controller) setStatus(`Updated ${time(Date.now())}`);
  } catch (err) {
    if (inFlight === controller) report(err);
  } finally {
    if (inFlight === controller) {
      ui.view.removeAttribute("aria-busy");
      schedule();
    }
  }
}

function showLogin(message = ""): void {
  signedIn = false;
  clearTimeout(timer);
  inFlight?.abort();
  view?.destroy?.();
  view = undefined;
  viewName = "";
  fill(ui.view);
  ui.controls.hidden = true;
  ui.tabs.hidden = true;
  ui.login.hidden = false;
  ui.loginError.textContent = message;
  document.title = "Log in · mec-router";
  ui.loginKey.focus();
}

function showApp(session: SessionView): void {
  signedIn = true;
  allowed = Object.keys(VIEWS).filter((name) => session.platform || !PLATFORM_ONLY.has(name));
  home = session.platform ? "overview" : "decisions";
  for (const a of ui.tabs.querySelectorAll("a")) {
    a.hidden = !allowed.includes(a.getAttribute("href")?.replace(/^#\//, "") ?? "");
  }
  ui.who.textContent = session.platform ? "platform operator" : `tenant ${session.tenantId}`;
  route = parseRoute();
  showRoute();
  ui.login.hidden = true;
  ui.controls.hidden = false;
  ui.tabs.hidden = false;
  void load();
}

ui.loginForm.addEventListener("submit", (e) => {
  e.preventDefault();
  const key = ui.loginKey.value;
  ui.loginError.textContent = "";
  const button = ui.loginForm.querySelector("button");
  if (button) button.disabled = true;
  login(key)
    .then((session) => {
      ui.loginForm.reset();
      showApp(session);
      ui.main.focus({ preventScroll: true });
    })
    .catch((err) => {
      ui.loginError.textContent =
        err instanceof ApiError
          ? err.status === 401
            ? "That key is not valid."
            : err.status === 403
              ? "That key cannot open the dashboard: it needs an operator key."
              : `Login failed: ${err.message}`
          : "Login failed: the router did not answer.";
    })
    .finally(() => {
      if (button) button.disabled = false;
    });
});

ui.logout.addEventListener("click", () => {
  logout()
    .catch((err) => (err instanceof SessionEnded ? undefined : report(err)))
    .finally(() => showLogin("You are logged out."));
});

ui.range.addEventListener("change", () => void load());
ui.refresh.addEventListener("change", schedule);
ui.refreshNow.addEventListener("click", () => void load());
document.addEventListener("visibilitychange", () => {
  if (document.hidden) clearTimeout(timer);
  else if (signedIn) void load();
});
window.addEventListener("hashchange", () => {
  route = parseRoute();
  void load();
});

currentSession()
  .then((session) => (session ? showApp(session) : showLogin()))
  .catch(() => showLogin("The router did not answer. Reload the page to try again."));
