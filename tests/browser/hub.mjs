// The portfolio hub's pages in headless Chromium as one user: a wrong password first, then the
// right one; what the portfolio page lists; a drill-down to an assigned plant and to one that
// is not; the session cookie's flags; the page in Traditional Chinese. Reports JSON on stdout.
// usage: node hub.mjs BASE_URL USER PASSWORD OWN_SITE OTHER_SITE SCREENSHOT
import { chromium } from "playwright-core";

const [base, user, password, own, other, shot] = process.argv.slice(2);
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
const context = await browser.newContext({ viewport: { width: 1366, height: 1000 }, locale: "en-US" });
const page = await context.newPage();
const report = { pageErrors: [] };
page.on("pageerror", (e) => report.pageErrors.push(e.message));
const ready = () => page.waitForFunction(() => document.body.dataset.ready === "1", null, { timeout: 30000 });

await page.goto(`${base}/login`);
await ready();
await page.fill("#user", user);
await page.fill("#password", password + "-wrong");
await page.click("#submit");
await page.waitForFunction(() => document.getElementById("error").textContent.length > 0, null, { timeout: 30000 });
report.wrongPassword = { error: await page.textContent("#error"), url: page.url() };

await page.fill("#password", password);
await Promise.all([page.waitForURL(`${base}/portfolio`, { timeout: 30000 }), page.click("#submit")]);
await ready();
await page.waitForFunction(() => document.querySelectorAll("#sites tbody tr").length > 0 || !document.getElementById("none").hidden, null, { timeout: 30000 });
report.portfolio = await page.evaluate(() => ({
  who: document.getElementById("who").textContent,
  sites: [...document.querySelectorAll("#sites tbody tr")].map((r) => r.dataset.site),
  cells: [...document.querySelectorAll("#sites tbody tr")].map((r) => [...r.cells].map((c) => c.textContent)),
  benchmarks: Object.fromEntries([...document.querySelectorAll(".bench")].map((b) => [b.dataset.indicator, [...b.querySelectorAll("tbody tr")].map((r) => [...r.cells].map((c) => c.textContent))])),
  total: document.getElementById("total").textContent,
}));
if (shot) await page.screenshot({ path: shot, fullPage: true });

await page.goto(`${base}/portfolio#site=${own}`);
await page.waitForFunction((s) => document.getElementById("drill-site").textContent === s, own, { timeout: 30000 });
report.drill = await page.evaluate(() => document.getElementById("drill-body").innerText);

await page.goto(`${base}/portfolio#site=${other}`);
await page.reload();
await page.waitForFunction(() => document.getElementById("failure"), null, { timeout: 30000 });
report.other = await page.evaluate(() => ({ failure: document.getElementById("failure").textContent, shown: document.getElementById("drill-site").textContent }));

report.cookies = (await context.cookies()).map((c) => ({ name: c.name, httpOnly: c.httpOnly, sameSite: c.sameSite, secure: c.secure }));

await page.evaluate(() => localStorage.setItem("kw-lang", "zh-TW"));
await page.goto(`${base}/portfolio`);
await ready();
report.zh = await page.evaluate(() => ({ title: document.querySelector("h1").textContent, head: [...document.querySelectorAll("#sites th")].map((c) => c.textContent) }));

await page.click("#logout");
await page.waitForURL(`${base}/login`, { timeout: 30000 });
const after = await page.evaluate(async () => (await fetch("/api/v1/portfolio/sites")).status);
report.afterLogout = after;

await browser.close();
process.stdout.write(JSON.stringify(report));
