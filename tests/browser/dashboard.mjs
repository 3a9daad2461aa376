// Visits every dashboard page in headless Chromium, in English (laptop and tablet) and in
// Traditional Chinese (laptop), and reports what it saw as JSON on stdout.
// usage: node dashboard.mjs BASE_URL SCREENSHOT_DIR [FROM_DATE TO_DATE [EMPTY_TO_DATE]]
import { chromium } from "playwright-core";

const [base, shots, from, to, emptyTo] = process.argv.slice(2);
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
const report = { pages: {}, errors: [] };
const passes = [["en", "laptop", 1366], ["en", "tablet", 820], ["zh-TW", "laptop", 1366]];
for (const [lang, view, width] of passes) {
  const name = lang === "en" ? view : `${view}-${lang}`;
  const page = await browser.newPage({ viewport: { width, height: 1000 } });
  page.on("console", (m) => { if (m.type() === "error" || m.type() === "warning") report.errors.push(`${name} console ${m.type()}: ${m.text()}`); });
  page.on("pageerror", (e) => report.errors.push(`${name} page error: ${e.message}`));
  page.on("response", (r) => { if (r.status() >= 400) report.errors.push(`${name} HTTP ${r.status()} ${r.url()}`); });
  for (const p of ["plant", "air", "chillers", "pumps", "boiler", "savings", "health", "alarms", "baselines", "review", "contract", "reports"]) {
    await page.goto(`${base}/dashboard/?lang=${lang}#/${p}?range=24h`);
    await page.waitForFunction((p) => document.body.dataset.ready === p, p, { timeout: 30000 }).catch(async (e) => {
      const status = await page.evaluate(() => document.getElementById("status").textContent);
      throw new Error(`${p}-${name} never ready (status: ${status}; errors: ${report.errors.join("; ")}): ${e.message}`);
    });
    const info = await page.evaluate(() => ({
      title: document.title,
      charts: [...document.querySelectorAll("svg.chart")].map((s) => Number(s.dataset.points)),
      tiles: Object.fromEntries([...document.querySelectorAll("[data-tile]")].map((t) => [t.dataset.tile, t.querySelector(".value").textContent])),
      legends: [...document.querySelectorAll("svg.chart")].every((s) => s.querySelector("rect") || s.textContent.includes("no data")),
      axisLabels: [...document.querySelectorAll("svg.chart")].every((s) => [...s.querySelectorAll("text")].some((t) => t.getAttribute("transform"))),
      // The energy review's uses: the highlighted (significant) rows and each chart's bars.
      seu: [...document.querySelectorAll("tr.seu")].map((r) => r.dataset.use),
      uses: [...document.querySelectorAll("tr[data-use]")].map((r) => r.dataset.use),
      bars: [...document.querySelectorAll("svg.chart rect[data-use]")].map((r) => r.dataset.use),
      status: document.getElementById("status").textContent,
      text: document.querySelector("main").innerText.slice(0, 16000),
      lang: document.documentElement.lang,
      nav: [...document.querySelectorAll("nav a")].map((a) => a.textContent),
      untranslated: [...UNTRANSLATED],
    }));
    if (name === "laptop") {
      // The time-range picker: a wider range shows more points, and lands in the URL.
      if (p === "plant" || p === "air") {
        await page.click('#range button[data-range="7d"]');
        await page.waitForFunction(() => location.hash.includes("range=7d") && document.body.dataset.ready, null, { timeout: 30000 });
        await page.waitForFunction(() => document.getElementById("status").textContent.includes("updated"), null, { timeout: 30000 });
        info.charts7d = await page.evaluate(() => [...document.querySelectorAll("svg.chart")].map((s) => Number(s.dataset.points)));
        info.hash7d = await page.evaluate(() => location.hash);
      }
    }
    await page.screenshot({ path: `${shots}/${p}-${name}.png`, fullPage: true });
    report.pages[`${p}-${name}`] = info;
  }
  await page.close();
}
// The reports page in each language: a report made from its form (HTML in English, PDF in
// Chinese) is listed, and its link serves the file.
report.reports = {};
for (const [lang, format] of [["en", "html"], ["zh-TW", "pdf"]]) {
  const name = `reports-${lang}`;
  const page = await browser.newPage({ viewport: { width: 1366, height: 1000 } });
  page.on("console", (m) => { if (m.type() === "error" || m.type() === "warning") report.errors.push(`${name} console ${m.type()}: ${m.text()}`); });
  page.on("pageerror", (e) => report.errors.push(`${name} page error: ${e.message}`));
  page.on("response", (r) => { if (r.status() >= 400) report.errors.push(`${name} HTTP ${r.status()} ${r.url()}`); });
  await page.goto(`${base}/dashboard/?lang=${lang}#/reports`);
  await page.waitForFunction(() => document.body.dataset.ready === "reports", null, { timeout: 30000 });
  // This plant month: the demo's history is in it.
  const period = await page.evaluate(() => plantDate(Date.now()).slice(0, 7));
  const form = "form.reports-generate";
  await page.fill(`${form} input[name="period"]`, period);
  await page.selectOption(`${form} select[name="lang"]`, lang);
  await page.selectOption(`${form} select[name="format"]`, format);
  await page.click(`${form} button[type="submit"]`);
  // Done when the button is back and the status says how it went.
  await page.waitForFunction((form) => {
    const status = document.querySelector(`${form} .status`).textContent;
    return !document.querySelector(`${form} button`).disabled && status && status !== t("reports-generating");
  }, form, { timeout: 60000 });
  const seen = await page.evaluate(({ form, period, lang, format }) => {
    const rows = [...document.querySelectorAll("table.reports tr[data-kind]")].map((r) => ({
      kind: r.dataset.kind, period: r.dataset.period,
      cells: [...r.querySelectorAll("td")].map((c) => c.textContent),
      href: r.querySelector("a[data-report]").href,
    }));
    const made = rows.find((r) => r.kind === "monthly" && r.period === period && r.cells[2] === lang && r.cells[3] === format.toUpperCase());
    return {
      status: document.querySelector(`${form} .status`).textContent,
      rows: rows.length, made: made || null,
      text: document.querySelector("main").innerText.slice(0, 4000),
      lang: document.documentElement.lang,
      untranslated: [...UNTRANSLATED],
    };
  }, { form, period, lang, format });
  seen.period = period;
  if (seen.made) {
    const res = await page.request.get(seen.made.href);
    const body = await res.body();
    seen.file = { status: res.status(), type: res.headers()["content-type"], bytes: body.length, head: body.subarray(0, 15).toString("latin1") };
  }
  await page.screenshot({ path: `${shots}/reports-made-${lang}.png`, fullPage: true });
  report.reports[lang] = seen;
  await page.close();
}
// The header's language switch: picked once, remembered in localStorage for the next visit.
{
  const ctx = await browser.newContext({ viewport: { width: 1366, height: 1000 } });
  const page = await ctx.newPage();
  page.on("pageerror", (e) => report.errors.push(`switch page error: ${e.message}`));
  await page.goto(`${base}/dashboard/#/plant?range=24h`);
  await page.waitForFunction(() => document.body.dataset.ready === "plant", null, { timeout: 30000 });
  const before = await page.evaluate(() => document.documentElement.lang);
  await Promise.all([page.waitForNavigation(), page.selectOption("#lang", "zh-TW")]);
  await page.waitForFunction(() => document.body.dataset.ready === "plant", null, { timeout: 30000 });
  await page.goto(`${base}/dashboard/#/health`);
  await page.waitForFunction(() => document.body.dataset.ready === "health", null, { timeout: 30000 });
  report.switched = await page.evaluate((before) => ({
    before,
    after: document.documentElement.lang,
    stored: localStorage.getItem("kilowatch.lang"),
    nav: document.querySelector('nav a[data-page="health"]').textContent,
    untranslated: [...UNTRANSLATED],
  }), before);
  await ctx.close();
}
// The contract page when no whole month is stored before the range's end (EMPTY_TO_DATE, the
// history's first day): said in each language, no failure.
report.contractEmpty = {};
if (emptyTo) {
  for (const lang of ["en", "zh-TW"]) {
    const page = await browser.newPage({ viewport: { width: 1366, height: 1000 } });
    page.on("console", (m) => { if (m.type() === "error" || m.type() === "warning") report.errors.push(`contract-empty-${lang} console ${m.type()}: ${m.text()}`); });
    page.on("pageerror", (e) => report.errors.push(`contract-empty-${lang} page error: ${e.message}`));
    page.on("response", (r) => { if (r.status() >= 400) report.errors.push(`contract-empty-${lang} HTTP ${r.status()} ${r.url()}`); });
    await page.goto(`${base}/dashboard/?lang=${lang}#/contract?to=${emptyTo}`);
    await page.waitForFunction(() => document.body.dataset.ready === "contract", null, { timeout: 30000 });
    report.contractEmpty[lang] = await page.evaluate(() => ({
      text: document.querySelector("main").innerText.slice(0, 16000),
      noMonths: document.querySelectorAll("p.no-months").length,
      untranslated: [...UNTRANSLATED],
    }));
    await page.screenshot({ path: `${shots}/contract-empty-${lang}.png`, fullPage: true });
    await page.close();
  }
}
// The plant's clock in a browser elsewhere (the demo plant is in Asia/Taipei, this browser in
// Chicago): a custom date range, what the page asks the API for, its day ticks and status line.
if (from && to) {
  const ctx = await browser.newContext({ timezoneId: "America/Chicago", locale: "en-US", viewport: { width: 1366, height: 1000 } });
  const page = await ctx.newPage();
  page.on("pageerror", (e) => report.errors.push(`abroad page error: ${e.message}`));
  const requests = [];
  page.on("request", (r) => { if (r.url().includes("/api/v1/enpi?")) requests.push(Object.fromEntries(new URL(r.url()).searchParams)); });
  await page.goto(`${base}/dashboard/#/plant?from=${from}&to=${to}`);
  await page.waitForFunction(() => document.body.dataset.ready === "plant", null, { timeout: 30000 });
  report.abroad = await page.evaluate(() => ({
    browserZone: Intl.DateTimeFormat().resolvedOptions().timeZone,
    status: document.getElementById("status").textContent,
    from: document.getElementById("from").value,
    to: document.getElementById("to").value,
    ticks: [...document.querySelectorAll("svg.chart text.xtick")].map((t) => ({ t: Number(t.dataset.t), label: t.textContent })),
  }));
  report.abroad.requests = requests;
  await ctx.close();
}
await browser.close();
console.log(JSON.stringify(report));
