// The portfolio page's load time in headless Chromium, for `kilowatch-bench hub-suite`: logs in
// once, then loads /portfolio REPEAT times and reports, per load, the milliseconds from the
// start of navigation to the page being ready (every plant listed, like assets rendered) and
// the next frame painted. Reports JSON on stdout.
// usage: node hub-load.mjs BASE_URL USER PASSWORD REPEAT
import { chromium } from "playwright-core";

const [base, user, password, repeat] = process.argv.slice(2);
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
const context = await browser.newContext({ viewport: { width: 1366, height: 1000 }, locale: "en-US" });
const page = await context.newPage();
const errors = [];
page.on("pageerror", (e) => errors.push(e.message));
await page.goto(`${base}/login`);
await page.waitForFunction(() => document.body.dataset.ready === "1", null, { timeout: 60000 });
await page.fill("#user", user);
await page.fill("#password", password);
await Promise.all([page.waitForURL(`${base}/portfolio`, { timeout: 60000 }), page.click("#submit")]);
const times = [];
let rows = 0;
for (let i = 0; i < Number(repeat); i++) {
  await page.goto(`${base}/portfolio`, { waitUntil: "commit" });
  await page.waitForFunction(() => document.body.dataset.ready === "1", null, { timeout: 120000, polling: "raf" });
  const r = await page.evaluate(() => new Promise((done) => requestAnimationFrame(() => done({
    ms: performance.now(),
    rows: document.querySelectorAll("#sites tbody tr").length,
    failure: document.getElementById("failure")?.textContent || null,
  }))));
  if (r.failure) errors.push(r.failure);
  times.push(r.ms);
  rows = r.rows;
}
await browser.close();
process.stdout.write(JSON.stringify({ times, rows, errors }));
