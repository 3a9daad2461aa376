"use strict";
// Reports in the dashboard (#/reports): the stored reports (made on the schedule or here) with
// links to their files, and a form to make one now (monthly report or GHG summary, language,
// PDF or HTML). Loaded after app.js, whose helpers (api, el, section, t, TOKEN, PAGES, LANG,
// plantDate) it uses.

const withToken = (url) => (TOKEN ? url + (url.includes("?") ? "&" : "?") + "token=" + encodeURIComponent(TOKEN) : url);

function reportsTable(list) {
  const table = el("table", { class: "reports" });
  table.append(el("tr", {}, ...["reports-kind", "reports-period", "reports-lang", "reports-format", "reports-made", "reports-trigger", "reports-file"].map((k) => el("th", {}, t(k)))));
  for (const r of list) {
    const link = el("a", { href: withToken(".." + r.url), target: "_blank", "data-report": String(r.id) }, t("reports-open"));
    table.append(el("tr", { "data-kind": r.kind, "data-period": r.period },
      el("td", {}, t(r.kind === "ghg" ? "reports-kind-ghg" : "reports-kind-monthly")),
      el("td", {}, r.period), el("td", {}, r.lang), el("td", {}, r.format.toUpperCase()),
      el("td", {}, plantDate(Date.parse(r.created_at))),
      el("td", {}, t(r.trigger === "schedule" ? "reports-trigger-schedule" : "reports-trigger-request")),
      el("td", {}, link)));
  }
  return table;
}

function lastMonth() {
  const [y, m] = plantDate(Date.now()).split("-").map(Number);
  return m === 1 ? `${y - 1}-12` : `${y}-${String(m - 1).padStart(2, "0")}`;
}

function generateForm(sec, reload) {
  const form = el("form", { class: "mv reports-generate" });
  const kind = el("select", { name: "kind" },
    el("option", { value: "monthly" }, t("reports-kind-monthly")), el("option", { value: "ghg" }, t("reports-kind-ghg")));
  const period = el("input", { name: "period", size: "8", value: lastMonth(), required: "" });
  kind.addEventListener("change", () => {
    period.value = kind.value === "ghg" ? String(Number(lastMonth().slice(0, 4))) : lastMonth();
  });
  const lang = el("select", { name: "lang" }, el("option", { value: "zh-TW" }, "繁體中文"), el("option", { value: "en" }, "English"));
  lang.value = LANG;
  const format = el("select", { name: "format" }, el("option", { value: "pdf" }, "PDF"), el("option", { value: "html" }, "HTML"));
  const status = el("span", { class: "status", role: "status" });
  const button = el("button", { type: "submit" }, t("reports-generate"));
  form.append(el("label", {}, t("reports-kind"), " ", kind), " ", el("label", {}, t("reports-period"), " ", period), " ",
    el("label", {}, t("reports-lang"), " ", lang), " ", el("label", {}, t("reports-format"), " ", format), " ", button, " ", status);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    button.disabled = true;
    status.textContent = t("reports-generating");
    try {
      const res = await fetch(withToken("../api/v1/reports"), {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ kind: kind.value, period: period.value.trim(), lang: lang.value, format: format.value }),
      });
      const answer = await res.json().catch(() => ({}));
      if (!res.ok) throw new Error(answer.error || "HTTP " + res.status);
      status.textContent = t("reports-made-ok");
      await reload();
    } catch (e) {
      status.textContent = t("reports-failed", { error: e.message });
    } finally {
      button.disabled = false;
    }
  });
  sec.append(form);
}

async function reportsPage() {
  const listSec = section(t("reports-stored"), true);
  const holder = el("div", {});
  listSec.append(el("p", { class: "note" }, t("reports-schedule-note")), holder);
  const reload = async () => {
    const { reports } = await api("reports");
    holder.replaceChildren(reports.length ? reportsTable(reports) : el("p", {}, t("reports-none")));
  };
  await reload();
  generateForm(section(t("reports-make"), true), reload);
}

PAGES.reports = { title: () => t("nav-reports"), render: reportsPage };
