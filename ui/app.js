// The recgate console: plain DOM, no framework. Every value from the server is set as
// text (textContent), never parsed as HTML, so a stream named like markup shows as such.
"use strict";

const TOKEN_KEY = "recgate-admin-token";
const REFRESH_MS = 5000;
const PAGE = 100;
const state = { view: null, timer: null, metrics: null, charts: [], after: [] };

// el("td", {class: "x"}, "text", child): an element with attributes and children; strings
// become text nodes.
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function token() { return sessionStorage.getItem(TOKEN_KEY); }

async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers);
  if (token()) headers.Authorization = "Bearer " + token();
  const response = await fetch(path, Object.assign({}, options, { headers }));
  if (response.status === 401) {
    signOut("The server refused the token.");
    throw new Error("unauthorized");
  }
  return response;
}

async function json(path, options) {
  const response = await api(path, options);
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const message = body && body.message ? body.message : response.statusText;
    throw new Error(`${response.status}: ${message}`);
  }
  return body;
}

function status(text, isError) {
  const line = document.getElementById("status");
  line.textContent = text || "";
  line.className = isError ? "error" : "muted";
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  clearInterval(state.timer);
  document.getElementById("nav").hidden = true;
  const view = document.getElementById("view");
  view.hidden = true;
  view.replaceChildren();
  document.getElementById("token-form").hidden = false;
  document.getElementById("token-error").textContent = message || "";
}

async function signIn(event) {
  event.preventDefault();
  sessionStorage.setItem(TOKEN_KEY, document.getElementById("token").value);
  try {
    await json("/rules");
  } catch (error) {
    if (token() !== null) signOut("The server could not be asked: " + error.message);
    return;
  }
  document.getElementById("token").value = "";
  start();
}

function start() {
  document.getElementById("token-form").hidden = true;
  document.getElementById("nav").hidden = false;
  document.getElementById("view").hidden = false;
  show(location.hash.slice(1) || "overview");
}

function show(name) {
  const views = { overview, rules, explain, overrides, recordings, quotas, usage };
  const render = views[name] || overview;
  state.view = name in views ? name : "overview";
  state.after = [];
  for (const link of document.querySelectorAll("nav a")) {
    link.classList.toggle("active", link.dataset.view === state.view);
  }
  clearInterval(state.timer);
  const view = document.getElementById("view");
  view.replaceChildren();
  view.dataset.view = state.view;
  const refresh = () => render(view).then(() => status("Updated " + new Date().toLocaleTimeString()),
                                         (error) => status(error.message, true));
  refresh();
  if (render.live) state.timer = setInterval(() => render.live(view).catch((e) => status(e.message, true)), REFRESH_MS);
}

function table(headings, rows) {
  return el("div", { class: "scroll" },
    el("table", {}, el("thead", {}, el("tr", {}, headings.map((h) => el("th", {}, h)))),
      el("tbody", {}, rows)));
}

function when(text) { return text ? new Date(text).toLocaleString() : "never"; }

// --- Overview: rates from two scrapes of /metrics ------------------------------------

function parseMetrics(text) {
  const samples = [];
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const labels = {};
    for (const pair of (match[2] || "").slice(1, -1).matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[pair[1]] = pair[2];
    }
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

function sum(samples, name, filter) {
  return samples.filter((s) => s.name === name && (!filter || filter(s.labels)))
    .reduce((total, s) => total + s.value, 0);
}

async function overview(view) {
  view.replaceChildren(el("h2", {}, "Overview"), el("div", { class: "cards", id: "cards" }),
    el("p", { class: "muted" }, "Rates are over the last refresh (every 5 s)."));
  await overview.live(view);
}
overview.live = async (view) => {
  const response = await api("/metrics");
  const samples = parseMetrics(await response.text());
  const now = Date.now();
  const total = sum(samples, "recgate_decisions_total");
  const yes = sum(samples, "recgate_decisions_total", (l) => l.need_record === "true");
  const refused = sum(samples, "recgate_rejected_requests_total");
  const before = state.metrics;
  state.metrics = { at: now, total, yes, refused };
  const seconds = before ? (now - before.at) / 1000 : 0;
  const rate = before && seconds > 0 ? ((total - before.total) / seconds).toFixed(1) : "measuring…";
  const recent = before ? total - before.total : 0;
  const share = recent > 0 ? Math.round((100 * (yes - before.yes)) / recent) + "% yes" :
    total > 0 ? Math.round((100 * yes) / total) + "% yes since start" : "no decision yet";
  const storeUp = sum(samples, "recgate_overrides_store_up");
  const cards = [
    ["Decisions per second", rate, `${total} since start`],
    ["Share recorded", share, `${yes} yes, ${total - yes} no since start`],
    ["Callbacks refused", String(refused), before ? `${refused - before.refused} in the last refresh` : "since start"],
    ["Reloads", String(sum(samples, "recgate_config_reloads_total", (l) => l.result === "success")),
      `${sum(samples, "recgate_config_reloads_total", (l) => l.result === "failure")} failed`],
    ["Store", storeUp >= 1 ? "up" : "down or off", `${sum(samples, "recgate_overrides_loaded")} overrides loaded`],
    ["Recording now", String(sum(samples, "recgate_recordings_active")), "decided, recording or paused (counted every 5 s)"],
    ["Rules loaded", String(sum(samples, "recgate_rules_loaded")), ""],
  ];
  const box = view.querySelector("#cards");
  if (!box) return;
  box.replaceChildren(...cards.map(([title, figure, note]) =>
    el("div", { class: "card", "data-card": title },
      el("div", { class: "muted" }, title), el("div", { class: "figure" }, figure),
      el("div", { class: "muted" }, note))));
};

// --- Rules ---------------------------------------------------------------------------

function pattern(p) { return p ? `${p.kind} ${p.pattern}` : "any"; }
function decision(d) {
  if (!d.record) return "do not record";
  const formats = d.formats ? d.formats.join(", ") : "the platform's formats";
  return "record " + formats;
}

async function rules(view) {
  const data = await json("/rules");
  const rows = data.rules.map((r, i) => el("tr", {},
    el("td", {}, String(i + 1)),
    el("td", { class: "text" }, r.name, " ",
      r.mode === "shadow" ? el("span", { class: "badge shadow" }, "shadow") : null),
    el("td", { class: "text" }, pattern(r.domain)),
    el("td", { class: "text" }, pattern(r.app)),
    el("td", { class: "text" }, pattern(r.stream)),
    el("td", {}, decision(r.decision)),
    el("td", {}, r.quota || ""),
    el("td", {}, String(r.hits)),
    el("td", {}, when(r.last_hit))));
  rows.push(el("tr", {},
    el("td", {}, ""), el("td", {}, "default"), el("td", {}, ""), el("td", {}, ""), el("td", {}, ""),
    el("td", {}, decision(data.default.decision)), el("td", {}, ""),
    el("td", {}, String(data.default.hits)), el("td", {}, when(data.default.last_hit))));
  view.replaceChildren(el("h2", {}, "Rules"),
    el("p", { class: "muted" }, `${data.config.path}, loaded ${when(data.config.loaded_at)}; first match wins.`),
    table(["#", "Rule", "Domain", "App", "Stream", "Answer", "Quota", "Hits", "Last hit"], rows));
}
rules.live = rules;

// --- Explain -------------------------------------------------------------------------

async function explain(view) {
  const fields = ["domain", "app", "stream", "codec", "vbitrate"];
  const result = el("div", { id: "explain-result" });
  const form = el("form", { class: "inline card", id: "explain-form", onsubmit: async (event) => {
    event.preventDefault();
    const query = new URLSearchParams();
    for (const name of fields) {
      const value = form.elements[name].value;
      if (value) query.set(name, value);
    }
    try {
      const data = await json("/explain?" + query);
      result.replaceChildren(
        el("p", {}, "Decided by ", el("strong", { id: "explain-rule" }, data.rule),
          data.overridden_rule ? ` (the rules alone: ${data.overridden_rule})` : ""),
        el("pre", { id: "explain-response" }, JSON.stringify(data.response)),
        table(["Rule", "Outcome", "Why"], data.steps.map((s) => el("tr", {},
          el("td", { class: "text" }, s.rule), el("td", {}, s.outcome),
          el("td", { class: "text" }, s.quota || (s.field ? `${s.field} ${JSON.stringify(s.value)} is not ${s.wanted}` : ""))))));
      status("");
    } catch (error) { status(error.message, true); }
  } }, fields.map((name) => el("label", {}, name, el("input", { name }))),
    el("button", { type: "submit" }, "Explain"));
  view.replaceChildren(el("h2", {}, "Explain"),
    el("p", { class: "muted" }, "What the callback answers for a query, and every rule's reason."), form, result);
}

// --- Overrides -----------------------------------------------------------------------

async function overrides(view) {
  const list = el("div", { id: "override-list" });
  const error = el("p", { class: "error", role: "alert" });
  const form = el("form", { class: "inline card", id: "override-form", onsubmit: async (event) => {
    event.preventDefault();
    const value = (name) => form.elements[name].value.trim();
    const body = { stream: value("stream"), record: value("record") === "yes" };
    if (value("domain")) body.domain = value("domain");
    if (value("app")) body.app = value("app");
    const formats = value("formats").split(",").map((f) => f.trim()).filter(Boolean);
    if (body.record && formats.length) body.formats = formats;
    if (value("ttl")) body.ttl = Number(value("ttl")) * 3600;
    if (value("reason")) body.reason = value("reason");
    try {
      await json("/overrides", { method: "PUT", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
      error.textContent = "";
      form.reset();
      await overrides.live(view);
    } catch (e) { error.textContent = e.message; }
  } },
  el("label", {}, "Stream", el("input", { name: "stream", required: true })),
  el("label", {}, "App (empty: any)", el("input", { name: "app" })),
  el("label", {}, "Domain (empty: any)", el("input", { name: "domain" })),
  el("label", {}, "Answer", el("select", { name: "record" }, el("option", { value: "yes" }, "record"), el("option", { value: "no" }, "do not record"))),
  el("label", {}, "Formats (mp4, flv, m3u8)", el("input", { name: "formats" })),
  el("label", {}, "Hours to live (empty: none)", el("input", { name: "ttl", type: "number", min: "1" })),
  el("label", {}, "Reason", el("input", { name: "reason" })),
  el("button", { type: "submit" }, "Add override"));
  view.replaceChildren(el("h2", {}, "Overrides"), form, error, list);
  await overrides.live(view);
}
overrides.live = async (view) => {
  const data = await json("/overrides?limit=" + PAGE);
  const list = view.querySelector("#override-list");
  if (!list) return;
  list.replaceChildren(
    el("p", { class: "muted" }, data.overrides.length ? `${data.overrides.length} shown${data.next ? ", more in the API" : ""}` : "No override in force."),
    table(["Domain", "App", "Stream", "Answer", "Reason", "Expires", ""], data.overrides.map((o) => el("tr", {},
      el("td", { class: "text" }, o.domain || "any"), el("td", { class: "text" }, o.app || "any"),
      el("td", { class: "text" }, o.stream), el("td", {}, decision(o)),
      el("td", { class: "text" }, o.reason || ""), el("td", {}, o.expires_at ? when(o.expires_at) : "never"),
      el("td", {}, el("button", { type: "button", "data-delete": o.stream, onclick: async () => {
        const query = new URLSearchParams({ stream: o.stream });
        if (o.domain) query.set("domain", o.domain);
        if (o.app) query.set("app", o.app);
        try { await json("/overrides?" + query, { method: "DELETE" }); await overrides.live(view); }
        catch (e) { status(e.message, true); }
      } }, "Delete"))))));
};

// --- Recordings ----------------------------------------------------------------------

async function recordings(view) {
  const form = el("form", { class: "inline card", id: "recording-filter", onsubmit: (event) => {
    event.preventDefault();
    state.after = [];
    recordings.live(view).catch((e) => status(e.message, true));
  } }, ["domain", "app", "stream"].map((name) => el("label", {}, name, el("input", { name }))),
  el("label", {}, "state", el("select", { name: "state" }, ["", "decided", "recording", "paused"].map((s) => el("option", { value: s }, s || "any")))),
  el("button", { type: "submit" }, "Filter"));
  view.replaceChildren(el("h2", {}, "Recording now"), form, el("div", { id: "recording-list" }));
  await recordings.live(view);
}
recordings.live = async (view) => {
  const form = view.querySelector("#recording-filter");
  const list = view.querySelector("#recording-list");
  if (!form || !list) return;
  const query = new URLSearchParams({ limit: String(PAGE) });
  for (const name of ["domain", "app", "stream", "state"]) {
    if (form.elements[name].value) query.set(name, form.elements[name].value);
  }
  const after = state.after[state.after.length - 1];
  if (after) query.set("after", after);
  const data = await json("/recordings?" + query);
  const page = state.after.length + 1;
  list.replaceChildren(
    el("p", { class: "muted" }, `Page ${page}: ${data.items.length} recording(s)`),
    table(["State", "Domain", "App", "Stream", "Rule", "Quota", "Since", "Files", "Hours"], data.items.map((r) => el("tr", {},
      el("td", {}, r.state), el("td", { class: "text" }, r.domain), el("td", { class: "text" }, r.app),
      el("td", { class: "text" }, r.stream), el("td", { class: "text" }, r.rule || "(not recgate's)"),
      el("td", {}, r.quota || ""), el("td", {}, when(r.since)), el("td", {}, String(r.files)),
      el("td", {}, (r.recorded_seconds / 3600).toFixed(2))))),
    el("div", { class: "inline" },
      el("button", { type: "button", disabled: page === 1, onclick: () => { state.after.pop(); recordings.live(view); } }, "Previous page"),
      el("button", { type: "button", disabled: !data.next, onclick: () => { state.after.push(data.next); recordings.live(view); } }, "Next page")));
};

// --- Quotas --------------------------------------------------------------------------

function bar(used, limit) {
  const share = limit > 0 ? Math.min(1, used / limit) : 1;
  const fill = el("div", { class: share >= 1 ? "full" : "" });
  fill.style.width = (share * 100).toFixed(1) + "%";
  return el("div", { class: "bar", role: "img", "aria-label": `${used} of ${limit}` }, fill);
}

async function quotas(view) {
  const data = await json("/quotas");
  view.replaceChildren(el("h2", {}, "Quotas"),
    data.quotas.length ? table(["Quota", "Mode", "Active", "", "Hours this month", "", "Refused", "Admitting", "Month from"],
      data.quotas.map((q) => el("tr", { "data-quota": q.name },
        el("td", { class: "text" }, q.name), el("td", {}, q.mode),
        el("td", {}, q.max_active === null ? `${q.active}` : `${q.active}/${q.max_active}`),
        el("td", {}, q.max_active === null ? "" : bar(q.active, q.max_active)),
        el("td", {}, q.monthly_hours === null ? q.hours_this_month.toFixed(2) : `${q.hours_this_month.toFixed(2)}/${q.monthly_hours}`),
        el("td", {}, q.monthly_hours === null ? "" : bar(q.hours_this_month, q.monthly_hours)),
        el("td", {}, String(q.refused)), el("td", {}, q.admitting ? "yes" : "no"),
        el("td", {}, `${q.month_start} (${q.timezone})`))))
      : el("p", { class: "muted" }, "No [[quota]] in the config."));
}
quotas.live = quotas;

// --- Usage ---------------------------------------------------------------------------

function day(offset) {
  const date = new Date(Date.now() - offset * 86400000);
  return date.toISOString().slice(0, 10);
}

async function usage(view) {
  const data = await json(`/usage?from=${day(29)}&to=${day(0)}&by=day`);
  for (const chart of state.charts) chart.destroy();
  state.charts = [];
  const xs = data.rows.map((r) => Date.parse(r.key + "T00:00:00Z") / 1000);
  const hours = data.rows.map((r) => r.recorded_seconds / 3600);
  const peak = data.rows.map((r) => r.peak_active);
  const hoursBox = el("div", { class: "card", id: "usage-hours" });
  const peakBox = el("div", { class: "card", id: "usage-peak" });
  view.replaceChildren(el("h2", {}, "Usage, last 30 days (UTC)"), hoursBox, peakBox,
    el("div", { id: "usage-table" },
      table(["Day", "Hours", "Files", "Peak at once"], data.rows.slice().reverse().map((r) => el("tr", {},
        el("td", {}, r.key), el("td", {}, (r.recorded_seconds / 3600).toFixed(2)),
        el("td", {}, String(r.files)), el("td", {}, String(r.peak_active)))))));
  if (typeof uPlot === "undefined") return;
  const width = Math.max(280, Math.min(view.clientWidth - 40, 1100));
  const chart = (title, label, values, box) => new uPlot({
    title, width, height: 220,
    series: [{}, { label, stroke: "#2557a7", fill: "rgba(37,87,167,.12)" }],
    axes: [{}, { size: 50 }],
  }, [xs, values], box);
  state.charts.push(chart("Hours recorded per day", "hours", hours, hoursBox));
  state.charts.push(chart("Most recordings at once per day", "peak", peak, peakBox));
}

// --- Start ---------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  document.getElementById("token-form").addEventListener("submit", signIn);
  document.getElementById("sign-out").addEventListener("click", () => signOut(""));
  window.addEventListener("hashchange", () => { if (token() !== null) show(location.hash.slice(1)); });
  if (token() === null) signOut("");
  else start();
});
