// The portfolio pages of the hub: login, every plant on one page, like assets across plants,
// drill-down to one plant (#site=ID). Text comes from the gateway's catalogue
// (gateway/i18n/*.ftl, served at /api/v1/i18n/{lang}): add a key to BOTH files.
"use strict";

let MESSAGES = {};
let LANG = "en";
let CSRF = null;

function t(key, args) {
  let s = MESSAGES[key] ?? key;
  for (const [k, v] of Object.entries(args || {})) s = s.split("{$" + k + "}").join(v);
  return s;
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(c ?? ""));
  return e;
}

// One formatter per precision: toLocaleString with options builds a new one at every call,
// which a page of a thousand plants notices.
const FORMATS = new Map();
function fmt(v, digits) {
  if (v === null || v === undefined || !isFinite(v)) return "–";
  const d = digits ?? 1;
  if (!FORMATS.has(d)) FORMATS.set(d, new Intl.NumberFormat(LANG, { maximumFractionDigits: d }));
  return FORMATS.get(d).format(Number(v));
}

async function loadLanguage() {
  const saved = localStorage.getItem("kw-lang");
  LANG = saved || (navigator.language.toLowerCase().startsWith("zh") ? "zh-TW" : "en");
  const res = await fetch("/api/v1/i18n/" + LANG, { cache: "no-store" });
  MESSAGES = (await res.json()).messages || {};
  document.documentElement.lang = LANG;
  for (const e of document.querySelectorAll("[data-t]")) e.textContent = t(e.dataset.t);
  const sel = document.getElementById("lang");
  for (const [tag, name] of [["en", "English"], ["zh-TW", "繁體中文"]]) {
    const o = el("option", { value: tag }, name);
    if (tag === LANG) o.selected = true;
    sel.append(o);
  }
  sel.onchange = () => { localStorage.setItem("kw-lang", sel.value); location.reload(); };
}

// Requests started at once when the page opens, beside the catalogue, instead of one after
// another; each is used by the first `api` call for its path.
let EARLY = {};
function prefetch(paths) {
  for (const p of paths) EARLY[p] = fetch("/api/v1/" + p, { cache: "no-store", credentials: "same-origin" });
}

async function api(path, opts) {
  const early = !opts && EARLY[path];
  delete EARLY[path];
  const res = await (early || fetch("/api/v1/" + path, Object.assign({ cache: "no-store", credentials: "same-origin" }, opts || {})));
  if (res.status === 401) { location.href = "/login"; throw new Error("signed out"); }
  const body = res.status === 204 ? {} : await res.json();
  if (!res.ok) throw new Error(body.key ? t(body.key) : res.status);
  return body;
}

async function loginPage() {
  document.getElementById("login").onsubmit = async (ev) => {
    ev.preventDefault();
    const err = document.getElementById("error");
    err.textContent = "";
    const res = await fetch("/api/v1/auth/login", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ user: document.getElementById("user").value, password: document.getElementById("password").value }),
    });
    if (res.ok) { location.href = "/portfolio"; return; }
    const body = await res.json().catch(() => ({}));
    err.textContent = body.key ? t(body.key) : String(res.status);
  };
}

// Each plan's newest contract year as the site judged it: status, avoided of guaranteed kWh.
function planStatus(g) {
  return g.status ? t("plan-status-" + g.status.replaceAll(" ", "-").replaceAll("_", "-")) : "–";
}

function guaranteeCell(list) {
  if (!list.length) return "–";
  return list.map((g) => t("hub-guarantee-cell", {
    plan: g.plan, status: planStatus(g), avoided: fmt(g.avoided_kwh, 0), guaranteed: fmt(g.guarantee_kwh, 0),
  })).join("; ");
}

function siteRow(s) {
  const m = s.month || {};
  const sav = s.savings;
  const link = el("a", { href: "#site=" + encodeURIComponent(s.site), class: "site" }, s.site);
  return el("tr", { "data-site": s.site },
    el("td", {}, link),
    el("td", {}, fmt(s.energy_kwh_24h, 0)),
    el("td", {}, fmt(m.sec, 2)),
    el("td", {}, fmt(m.energy_cost, 0)),
    el("td", {}, fmt(m.co2e_kg, 0)),
    el("td", { class: s.open_alarms > 0 ? "bad" : "" }, String(s.open_alarms)),
    el("td", {}, sav ? fmt(sav.avoided_kwh, 0) + " ± " + fmt(sav.uncertainty_68_kwh, 0) : "–"),
    el("td", { class: "guarantee" }, guaranteeCell(s.guarantees || [])),
    el("td", {}, s.completeness ? fmt(100 * s.completeness.ratio, 1) + " %" : "–"),
    el("td", {}, new Date(s.last_seen).toLocaleString(LANG)));
}

function benchTable(b) {
  const wrap = el("div", { class: "bench", "data-indicator": b.indicator });
  wrap.append(el("h3", {}, t("hub-ind-" + b.indicator.replaceAll("_", "-"))));
  if (b.bands) wrap.append(el("p", { class: "muted" }, t("hub-bands-" + b.indicator.replaceAll("_", "-"))));
  const tb = el("tbody");
  for (const r of b.rows) {
    tb.append(el("tr", {},
      el("td", {}, el("a", { href: "#site=" + encodeURIComponent(r.site) }, r.site)),
      el("td", {}, r.asset),
      el("td", { class: r.band ? "band-" + r.band : "" }, fmt(r.value, 2)),
      el("td", { class: r.band ? "band-" + r.band : "" }, r.band ? t("hub-band-" + r.band) : t("hub-band-none"))));
  }
  wrap.append(el("table", {}, el("thead", {}, el("tr", {},
    el("th", {}, t("hub-col-site")), el("th", {}, t("hub-bench-asset")),
    el("th", {}, t("hub-bench-value")), el("th", {}, t("hub-bench-band")))), tb));
  return wrap;
}

async function overview() {
  const [{ sites, savings }, { benchmarks }] = await Promise.all([api("portfolio/sites"), api("portfolio/benchmarks")]);
  const body = document.querySelector("#sites tbody");
  body.replaceChildren(...sites.map(siteRow));
  document.getElementById("none").hidden = sites.length > 0;
  document.getElementById("total").textContent = savings
    ? t("hub-portfolio-savings", { kwh: fmt(savings.avoided_kwh, 0), u: fmt(savings.uncertainty_68_kwh, 0) }) : "";
  document.getElementById("benchmarks").replaceChildren(...benchmarks.filter((b) => b.rows.length).map(benchTable));
}

async function drill(site) {
  const d = await api("portfolio/sites/" + encodeURIComponent(site));
  document.getElementById("drill-site").textContent = d.site;
  const out = [];
  out.push(el("table", { class: "summary" }, el("tbody", {}, siteRow(d))));
  out.push(el("h3", {}, t("hub-drill-indicators")));
  const tb = el("tbody");
  for (const a of d.assets) {
    for (const [k, v] of Object.entries(a.indicators)) {
      tb.append(el("tr", {}, el("td", {}, a.asset), el("td", {}, k), el("td", {}, fmt(v, 2))));
    }
  }
  out.push(el("table", {}, tb));
  if (d.savings) {
    out.push(el("h3", {}, t("hub-drill-savings")));
    const sb = el("tbody");
    for (const p of d.savings.plans) {
      sb.append(el("tr", {}, el("td", {}, p.plan), el("td", {}, p.from + " – " + p.to),
        el("td", {}, fmt(p.avoided_kwh, 0) + " ± " + fmt(p.uncertainty_68_kwh, 0))));
    }
    out.push(el("table", {}, sb));
  }
  if (d.guarantees && d.guarantees.length) {
    out.push(el("h3", {}, t("hub-drill-guarantee")));
    const gb = el("tbody");
    for (const g of d.guarantees) {
      gb.append(el("tr", { "data-plan": g.plan },
        el("td", {}, g.name || g.plan),
        el("td", {}, t("hub-guarantee-year", { year: String(g.year ?? "–"), through: g.through || "–" })),
        el("td", { class: "status-" + (g.status || "").replaceAll(" ", "-") }, planStatus(g)),
        el("td", {}, fmt(g.avoided_kwh, 0)),
        el("td", {}, fmt(g.guarantee_kwh, 0)),
        el("td", {}, g.confidence == null ? "–" : fmt(100 * g.confidence, 1) + " %")));
    }
    out.push(el("table", { class: "guarantees" }, el("thead", {}, el("tr", {},
      el("th", {}, t("hub-guarantee-plan")), el("th", {}, t("hub-guarantee-year-col")),
      el("th", {}, t("hub-guarantee-status")), el("th", {}, t("hub-guarantee-avoided")),
      el("th", {}, t("hub-guarantee-guaranteed")), el("th", {}, t("hub-guarantee-confidence")))), gb));
  }
  document.getElementById("drill-body").replaceChildren(...out);
}

async function route() {
  const m = location.hash.match(/^#site=(.+)$/);
  const show = (id, on) => { document.getElementById(id).hidden = !on; };
  show("overview", !m); show("bench", !m); show("drill", !!m);
  try {
    if (m) await drill(decodeURIComponent(m[1])); else await overview();
  } catch (e) {
    const target = m ? "drill-body" : "total";
    document.getElementById(target).replaceChildren(el("p", { class: "bad", id: "failure" }, e.message));
  }
}

async function portfolioPage() {
  const me = await api("auth/me");
  CSRF = me.csrf;
  document.getElementById("who").textContent = t("hub-signed-in-as", { user: me.user, role: t("hub-role-" + me.role) });
  document.getElementById("logout").onclick = async () => {
    await api("auth/logout", { method: "POST", headers: { "X-CSRF-Token": CSRF || "" } });
    location.href = "/login";
  };
  window.addEventListener("hashchange", route);
  await route();
  document.body.dataset.ready = "1";
}

document.addEventListener("DOMContentLoaded", async () => {
  if (document.body.dataset.page !== "login") {
    prefetch(location.hash.startsWith("#site=") ? ["auth/me"] : ["auth/me", "portfolio/sites", "portfolio/benchmarks"]);
  }
  await loadLanguage();
  if (document.body.dataset.page === "login") await loginPage(); else await portfolioPage();
  document.body.dataset.ready = "1";
});
