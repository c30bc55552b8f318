// The administration pages in headless Chromium (playwright-core): the create form's live
// address preview, the HR import sent from a file input by the page's script, and a policy
// changed on the policies page.
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
  const page = await (await browser.newContext({ ignoreHTTPSErrors: true })).newPage();
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
  await page.goto(`${base}/admin/accounts`);
  await shot("accounts");
  seen.accounts = await page.$$eval("#accounts tbody tr", (rows) => rows.length);

  await page.goto(`${base}/admin/policies`);
  await page.fill("#password-min_length", "14");
  await Promise.all([page.waitForURL("**/admin/policies/password"), page.click("#policy-password button[type=submit]")]);
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
