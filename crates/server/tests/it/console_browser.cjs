// The administration pages in headless Chromium (playwright-core): the create form's live
// address preview, the HR import sent from a file input by the page's script, a policy
// changed on the policies page, the accounts table's "pick every row" box and its bulk
// confirmation, the department tree's branches, and times in the viewer's own zone (the
// browser here lives in Chicago).
// Usage: node console_browser.cjs BASE_URL LOGIN PASSWORD CSV_FILE TOTP_SECRET CLOCK_UNIX
//   [SCREENSHOT_DIR]
"use strict";
const { chromium } = require("playwright-core");
const { signIn } = require("./sign_in_browser.cjs");

async function main() {
  const [base, login, password, csv, secret, clock, shots] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.CAREPOST_CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox"],
  });
  const page = await (
    await browser.newContext({ ignoreHTTPSErrors: true, timezoneId: "America/Chicago", viewport: { width: 1280, height: 800 } })
  ).newPage();
  const shot = async (name) => {
    if (shots) await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
  };
  const seen = {};
  await signIn(page, base, login, password, secret, clock);

  await page.goto(`${base}/admin/accounts/new`);
  await page.fill("#first", "Zoë");
  await page.fill("#last", "D'Angelo");
  await page.waitForFunction(() => document.getElementById("address-preview").textContent.includes("@"));
  seen.preview = await page.textContent("#address-preview");
  await shot("new-account");

  await page.goto(`${base}/admin/departments`);
  await page.setInputFiles("#import-file", csv);
  await page.click("#run-import");
  await page.waitForFunction(() => /rows:/.test(document.getElementById("import-result").textContent));
  seen.import = await page.textContent("#import-result");
  seen.import_errors = await page.$$eval("#import-errors li", (lis) => lis.map((l) => l.textContent));
  await page.goto(`${base}/admin`);
  await shot("console-home");
  seen.nav = await page.$$eval("#console-nav a", (links) => links.map((l) => l.textContent));

  await page.goto(`${base}/admin/accounts`);
  await shot("accounts");
  seen.accounts = await page.$$eval("#accounts tbody tr", (rows) => rows.length);
  // The last sign-in in this viewer's zone, named.
  seen.last_sign_in = await page.$$eval("#accounts time", (ts) => ts.map((t) => t.textContent));
  await page.check("#pick-all");
  seen.picked = await page.$$eval('#accounts input[name="pick"]:checked', (b) => b.length);
  await Promise.all([page.waitForURL("**/admin/accounts/bulk"), page.click('#bulk button[value="export"]')]);
  seen.bulk_heading = await page.textContent("#bulk-heading");
  await shot("bulk-confirm");

  await page.goto(`${base}/admin/departments`);
  await shot("departments");
  const branch = "#departments details";
  seen.branch_open = await page.$eval(branch, (d) => d.open);
  await page.click(`${branch} > summary strong`);
  seen.branch_after_click = await page.$eval(branch, (d) => d.open);

  await page.goto(`${base}/admin/roles`);
  await shot("roles");
  await page.goto(`${base}/admin/accounts/${encodeURIComponent(login)}`);
  await shot("account-admin");
  await page.goto(`${base}/admin/audit?action=signin.`);
  await shot("audit");

  await page.goto(`${base}/admin/policies`);
  await page.fill("#password-min_length", "14");
  await Promise.all([page.waitForURL("**/admin/policies?done=password"), page.click("#policy-password button[type=submit]")]);
  seen.policy_saved = await page.textContent("main .notice");
  seen.policy_badges = await page.$$eval("#policy-password .badge", (b) => b.length);
  await shot("policies");
  console.log(JSON.stringify(seen));
  await browser.close();
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
