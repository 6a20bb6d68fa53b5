// The status page: signs in against /auth/login, keeps the access token in this tab's
// sessionStorage only, reads status/data every 5 s with it, and draws the charts as SVG.
"use strict";

(function () {
  const TOKEN_KEY = "evald.status.token";
  const REFRESH_MS = 5000;
  const SVG_NS = "http://www.w3.org/2000/svg";
  const DEPENDENCIES = ["database", "redis", "mail", "disk"];
  const STATE_LABELS = {
    ok: "OK", degraded: "Degraded", down: "Down", fallback: "Fallback", disabled: "Disabled",
  };
  // Fixed colours per error category, so that a category keeps its colour from one refresh to
  // the next whichever others come and go.
  const CATEGORIES = ["validation", "authentication", "authorization", "business_logic",
    "security", "database", "external_service", "system"];

  let timer = null;
  let last = null;  // the last data drawn, for redrawing on resize

  const $ = (id) => document.getElementById(id);

  // --- the token --------------------------------------------------------------------------------
  const token = () => sessionStorage.getItem(TOKEN_KEY);
  const forget = () => sessionStorage.removeItem(TOKEN_KEY);

  async function readJson(res) {
    try {
      return await res.json();
    } catch (e) {
      return null;
    }
  }

  function messageOf(body, res) {
    if (body && typeof body.message === "string" && body.message) return body.message;
    return "The server answered " + res.status;
  }

  function serverLogout(t) {
    return fetch("auth/logout", {
      method: "POST", headers: { Authorization: "Bearer " + t }, cache: "no-store",
    }).catch(() => undefined);
  }

  // --- views ------------------------------------------------------------------------------------
  function showLoginError(text) {
    const el = $("login-error");
    el.textContent = text || "";
    el.hidden = !text;
  }

  function showRefreshError(text) {
    const el = $("refresh-error");
    el.textContent = text || "";
    el.hidden = !text;
  }

  function showLogin(error) {
    clearTimeout(timer);
    timer = null;
    last = null;
    $("dashboard").hidden = true;
    $("login").hidden = false;
    showLoginError(error);
  }

  function showDashboard() {
    $("login").hidden = true;
    $("dashboard").hidden = false;
    showLoginError("");
  }

  // --- sign in and out --------------------------------------------------------------------------
  async function signIn(event) {
    event.preventDefault();
    showLoginError("");
    const body = { login_id: $("login-id").value.trim(), password: $("password").value };
    const mfa = $("mfa-code").value.trim();
    if (mfa) body.mfa_code = mfa;
    const button = $("login-submit");
    button.disabled = true;
    try {
      let res;
      try {
        res = await fetch("auth/login", {
          method: "POST",
          headers: { "Content-Type": "application/json", Accept: "application/json" },
          body: JSON.stringify(body),
          cache: "no-store",
        });
      } catch (e) {
        showLoginError("Cannot reach the server");
        return;
      }
      const data = await readJson(res);
      if (!res.ok || !data || !data.access_token) {
        showLoginError(messageOf(data, res));
        if (data && data.error_code === "MFA_REQUIRED") $("mfa-code").focus();
        return;
      }
      sessionStorage.setItem(TOKEN_KEY, data.access_token);
      $("password").value = "";
      $("mfa-code").value = "";
      await refresh();
    } finally {
      button.disabled = false;
    }
  }

  async function signOut() {
    const t = token();
    forget();
    showLogin("");
    if (t) await serverLogout(t);
  }

  // --- the refresh loop -------------------------------------------------------------------------
  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(refresh, REFRESH_MS);
  }

  async function refresh() {
    clearTimeout(timer);
    const t = token();
    if (!t) {
      showLogin("");
      return;
    }
    if (document.hidden && last) {  // nobody is looking: wait, and refresh when they are
      schedule();
      return;
    }
    let res;
    try {
      res = await fetch("status/data", {
        headers: { Authorization: "Bearer " + t, Accept: "application/json" }, cache: "no-store",
      });
    } catch (e) {
      showRefreshError("Cannot reach the server; retrying every 5 s");
      schedule();
      return;
    }
    const data = await readJson(res);
    if (token() !== t) return;  // signed out (or in again) while this was in flight
    if (res.status === 401) {
      forget();
      showLogin(last ? "Your session has ended: sign in again" : "");
      return;
    }
    if (res.status === 403) {
      // Signed in, but not as an admin: say why and close the session it opened.
      forget();
      showLogin(messageOf(data, res));
      await serverLogout(t);
      return;
    }
    if (!res.ok || !data) {
      showRefreshError(messageOf(data, res) + "; retrying every 5 s");
      schedule();
      return;
    }
    showRefreshError("");
    showDashboard();
    last = data;
    render(data);
    schedule();
  }

  // --- rendering --------------------------------------------------------------------------------
  function render(data) {
    const when = new Date(data.generated_at);
    $("updated").textContent = "Updated " + when.toLocaleTimeString() + " \u00b7 every 5 s";
    renderDependencies(data.dependencies || {});
    renderCharts(data);
  }

  function renderDependencies(deps) {
    for (const name of DEPENDENCIES) {
      const el = document.querySelector('.dep[data-name="' + name + '"]');
      const d = deps[name] || { state: "down", detail: "not reported" };
      el.dataset.state = d.state;
      el.querySelector(".dep-state").textContent = STATE_LABELS[d.state] || d.state;
      el.querySelector(".dep-text").textContent = d.detail || "";
    }
  }

  function formatNumber(v) {
    if (v === null || v === undefined) return "\u2013";
    const a = Math.abs(v);
    if (a >= 100) return String(Math.round(v));
    return String(parseFloat(v.toFixed(a >= 10 ? 1 : 2)));
  }

  const lastValue = (values) => {
    for (let i = values.length - 1; i >= 0; --i) if (values[i] !== null) return values[i];
    return null;
  };

  function chartLines(name, s) {
    switch (name) {
      case "request_rate":
        return [{ key: "requests", label: "requests/s", cls: "s0", values: s.request_rate }];
      case "latency":
        return [
          { key: "p50", label: "p50", cls: "s0", values: s.p50_ms },
          { key: "p99", label: "p99", cls: "s1", values: s.p99_ms },
        ];
      case "errors": {
        const names = Object.keys(s.errors || {}).sort();
        if (!names.length) {
          return [{ key: "none", label: "no errors", cls: "s2", values: s.t.map(() => 0) }];
        }
        return names.map((c) => {
          const i = CATEGORIES.indexOf(c);
          return { key: c, label: c.replace(/_/g, " "), cls: "s" + ((i < 0 ? 7 : i) % 8),
            values: s.errors[c] };
        });
      }
      case "rate_limit_refusals":
        return [{ key: "refusals", label: "refused (429)", cls: "s3", values: s.rate_limit_refusals }];
      case "failed_logins":
        return [{ key: "failed_logins", label: "failed logins", cls: "s4", values: s.failed_logins }];
      default:
        return [];
    }
  }

  function nowText(name, lines) {
    if (name === "latency") {
      return "p50 " + formatNumber(lastValue(lines[0].values)) + " \u00b7 p99 " +
        formatNumber(lastValue(lines[1].values));
    }
    if (name === "errors") {
      let sum = 0;
      for (const l of lines) sum += l.values.length ? (l.values[l.values.length - 1] || 0) : 0;
      return "now " + sum;
    }
    return "now " + formatNumber(lastValue(lines[0].values));
  }

  function renderCharts(data) {
    const s = data.series;
    const now = Date.parse(data.generated_at);
    const windowMs = data.window_seconds * 1000;
    const times = s.t.map((t) => Date.parse(t));
    for (const svg of document.querySelectorAll("svg.chart")) {
      const name = svg.dataset.series;
      const lines = chartLines(name, s);
      const counts = name !== "latency" && name !== "request_rate";
      drawChart(svg, times, lines, now - windowMs, now, counts);
      const legend = document.querySelector('[data-legend="' + name + '"]');
      legend.replaceChildren(...lines.map((l) => {
        const li = document.createElement("li");
        li.className = l.cls;
        li.textContent = l.label;
        return li;
      }));
      document.querySelector('[data-now="' + name + '"]').textContent = nowText(name, lines);
    }
  }

  function el(tag, attrs, text) {
    const e = document.createElementNS(SVG_NS, tag);
    for (const k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // 1, 2 or 5 times a power of ten, at least v.
  function niceCeil(v) {
    if (!(v > 0)) return 0.25;
    const p = Math.pow(10, Math.floor(Math.log10(v)));
    for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
    return 10 * p;
  }

  // `counts`: whole numbers, so the grid lines fall on whole numbers too.
  function drawChart(svg, times, lines, from, to, counts) {
    const width = Math.max(240, Math.round(svg.getBoundingClientRect().width) || 600);
    const height = Math.max(120, Math.round(svg.getBoundingClientRect().height) || 180);
    const pad = { left: 44, right: 10, top: 10, bottom: 22 };
    const plotW = width - pad.left - pad.right;
    const plotH = height - pad.top - pad.bottom;
    svg.setAttribute("viewBox", "0 0 " + width + " " + height);
    svg.replaceChildren();

    let max = 0;
    for (const l of lines) for (const v of l.values) if (v !== null && v > max) max = v;
    const tick = counts ? Math.max(1, niceCeil(max / 4)) : niceCeil((max * 1.05) / 4);
    const top = 4 * tick;
    const x = (t) => pad.left + ((t - from) / (to - from)) * plotW;
    const y = (v) => pad.top + plotH - (v / top) * plotH;
    const r = (n) => Math.round(n * 10) / 10;

    for (let k = 0; k <= 4; ++k) {
      const v = tick * k;
      const yy = r(y(v));
      svg.append(el("line", { class: "grid", x1: pad.left, x2: width - pad.right, y1: yy, y2: yy }));
      svg.append(el("text", { class: "axis", x: pad.left - 6, y: yy + 4, "text-anchor": "end" },
        formatNumber(v)));
    }
    const minutes = (to - from) / 60000;
    for (let k = 0; k <= 4; ++k) {
      const t = from + ((to - from) * k) / 4;
      const label = k === 4 ? "now" : "\u2212" + Math.round(minutes - (minutes * k) / 4) + "m";
      const anchor = k === 0 ? "start" : k === 4 ? "end" : "middle";
      svg.append(el("text", { class: "axis", x: r(x(t)), y: height - 6, "text-anchor": anchor }, label));
    }

    for (const l of lines) {
      // Steps without a value (no request, so no latency) break the line.
      let d = "";
      let run = 0;
      for (let i = 0; i < times.length; ++i) {
        const v = l.values[i];
        if (v === null || v === undefined || times[i] < from) {
          if (run === 1) d += " h1";
          run = 0;
          continue;
        }
        d += (run ? " L" : " M") + r(x(times[i])) + " " + r(y(v));
        ++run;
      }
      if (run === 1) d += " h1";  // a lone point still shows
      if (!d) continue;
      const path = el("path", { class: "line " + l.cls, "data-key": l.key, d: d.trim() });
      path.append(el("title", {}, l.label));
      svg.append(path);
    }
  }

  // --- start ------------------------------------------------------------------------------------
  document.addEventListener("DOMContentLoaded", () => {
    $("login-form").addEventListener("submit", signIn);
    $("logout").addEventListener("click", signOut);
    let resizing = null;
    window.addEventListener("resize", () => {
      clearTimeout(resizing);
      resizing = setTimeout(() => { if (last) renderCharts(last); }, 150);
    });
    document.addEventListener("visibilitychange", () => {
      if (!document.hidden && token() && last) refresh();
    });
    if (token()) {
      refresh();
    } else {
      showLogin("");
    }
  });
})();
