// The alarms banner and page in headless Chromium, step by step with the Rust test
// (tests/tests/alarms_dashboard.rs): one JSON line on stdout per step; the test writes a line
// on stdin when it has made the alarm clear.
// usage: node alarms.mjs BASE_URL TOKEN SCREENSHOT_DIR WHO NOTE
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const [base, token, shots, who, note] = process.argv.slice(2);
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const say = (step, data) => console.log(JSON.stringify({ step, ...data }));
const errors = [];
const browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
try {
  const page = await browser.newPage({ viewport: { width: 1366, height: 1000 }, timezoneId: "America/Chicago" });
  page.on("console", (m) => { if (m.type() === "error" || m.type() === "warning") errors.push(`console ${m.type()}: ${m.text()}`); });
  page.on("pageerror", (e) => errors.push(`page error: ${e.message}`));
  page.on("response", (r) => { if (r.status() >= 400) errors.push(`HTTP ${r.status()} ${r.url()}`); });

  // Another page: the banner is above it.
  await page.goto(`${base}/dashboard/?token=${encodeURIComponent(token)}#/plant?range=24h`);
  await page.waitForFunction(() => document.body.dataset.ready === "plant", null, { timeout: 30000 });
  await page.waitForSelector("#banner:not([hidden])", { timeout: 20000 });
  const banner = await page.evaluate(() => {
    const b = document.getElementById("banner");
    return { text: b.innerText, class: b.className, count: b.dataset.count, link: b.querySelector("a").getAttribute("href") };
  });
  await page.screenshot({ path: `${shots}/alarms-banner-plant.png` });
  say("banner", { banner });

  // Its link leads to the alarms page, where the active alarm has an acknowledge form.
  await page.click("#banner a");
  await page.waitForFunction(() => document.body.dataset.ready === "alarms" && location.hash.startsWith("#/alarms"), null, { timeout: 30000 });
  const card = '.active-alarms [data-alarm="demand"]';
  await page.waitForSelector(`${card} form.ack`, { timeout: 20000 });
  const before = await page.evaluate((card) => {
    const c = document.querySelector(card);
    return {
      text: c.innerText,
      state: c.dataset.state,
      evidence: Object.fromEntries([...c.querySelectorAll("table.evidence tr")].map((r) => [r.dataset.key, r.querySelector("td").textContent])),
      link: c.querySelector("a.alarm-link") && c.querySelector("a.alarm-link").getAttribute("href"),
      nav: document.querySelector('nav a[data-page="alarms"]').textContent,
    };
  }, card);
  await page.screenshot({ path: `${shots}/alarms-raised.png`, fullPage: true });
  await page.fill(`${card} input[name="by"]`, who);
  await page.fill(`${card} input[name="note"]`, note);
  await page.click(`${card} button[type="submit"]`);
  // Acknowledged, or the form's own error message (e.g. a refused token).
  const refused = await page.waitForFunction((card) => {
    const c = document.querySelector(card);
    if (c && c.dataset.state === "acknowledged" && c.querySelector(".acked")) return "none";
    const e = c && c.querySelector(".ack-error");
    return e && e.textContent;
  }, card, { timeout: 20000 });
  if ((await refused.jsonValue()) !== "none") throw new Error("the page says: " + (await refused.jsonValue()));
  const acked = await page.evaluate((card) => ({
    text: document.querySelector(card).innerText,
    remembered: localStorage.getItem("kilowatch.alarms.who"),
    banner: document.getElementById("banner").innerText,
  }), card);
  await page.screenshot({ path: `${shots}/alarms-acknowledged.png`, fullPage: true });
  say("acked", { before, acked });

  // The test drops the load; the open page notices by itself.
  await lines.next();
  await page.waitForSelector('.alarm-history [data-history="demand"][data-state="cleared"]', { timeout: 120000 });
  await page.waitForSelector("#banner[hidden]", { state: "attached", timeout: 20000 });
  const cleared = await page.evaluate(() => ({
    row: [...document.querySelector('.alarm-history [data-history="demand"]').cells].map((c) => c.textContent),
    active: document.querySelectorAll(".active-alarms [data-alarm]").length,
  }));
  await page.screenshot({ path: `${shots}/alarms-laptop.png`, fullPage: true });
  say("cleared", { cleared, errors });
} catch (e) {
  say("failed", { error: String(e && e.stack || e), errors });
  process.exitCode = 1;
} finally {
  await browser.close();
}
