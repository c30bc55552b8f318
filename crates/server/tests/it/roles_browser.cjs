// Roles in headless Chromium (playwright-core): a helpdesk agent unlocks a locked colleague
// from the account page; a supervisor of another department is refused that account's page;
// a nurse sets up an authenticator app from the QR page and signs in with its codes.
// Usage: node roles_browser.cjs BASE_URL PASSWORD HELPDESK SUPERVISOR LOCKED NURSE CLOCK_UNIX
//   HELPDESK_SECRET SUPERVISOR_SECRET (their authenticators: a role opens with a second factor)
// The server's clock stands still in tests: codes are computed for CLOCK_UNIX, and after the
// enrollment the script prints "enrolled" and waits for a line on stdin while the test moves
// the clock a minute on.
"use strict";
const { chromium } = require("playwright-core");
const { totp, signIn } = require("./sign_in_browser.cjs");
const readline = require("readline");

async function signOut(page) {
  await Promise.all([page.waitForURL("**/sign-in"), page.click("header button.link")]);
}

async function main() {
  const [base, password, helpdesk, supervisor, locked, nurse, clock, helpdeskSecret, supervisorSecret] =
    process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.CAREPOST_CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox"],
  });
  const page = await (await browser.newContext({ ignoreHTTPSErrors: true })).newPage();
  const seen = {};

  await signIn(page, base, helpdesk, password, helpdeskSecret, clock);
  await page.goto(`${base}/admin/accounts?query=${encodeURIComponent(locked.split("@")[0])}`);
  await Promise.all([page.waitForURL(`**/admin/accounts/${locked}`), page.click(`a[href="/admin/accounts/${locked}"]`)]);
  seen.locked_before = await page.$$eval("#lockout tbody td:nth-child(3)", (tds) => tds.map((t) => t.textContent));
  await Promise.all([page.waitForURL("**?done=unlock"), page.click("#unlock")]);
  seen.unlock_notice = await page.textContent("p.notice");
  await signOut(page);

  await signIn(page, base, supervisor, password, supervisorSecret, clock);
  const refused = await page.goto(`${base}/admin/accounts/${locked}`);
  seen.supervisor_status = refused.status();
  await page.goto(`${base}/account`);
  await signOut(page);

  await signIn(page, base, nurse, password);
  await page.fill("#totp-password", password);
  await Promise.all([page.waitForURL("**/account/totp"), page.click("form[action='/account/totp'] button")]);
  seen.qr = (await page.$$("figure.qr svg")).length;
  const secret = (await page.textContent("#totp-secret")).trim();
  await page.fill("#code", totp(secret, Number(clock)));
  await Promise.all([page.waitForURL("**/account/totp/confirm"), page.click("main button[type=submit]")]);
  seen.recovery_codes = await page.$$eval("#secrets code", (els) => els.length);
  await page.goto(`${base}/account`);
  await signOut(page);
  console.log("enrolled");
  await new Promise((done) => readline.createInterface({ input: process.stdin }).once("line", done));
  await signIn(page, base, nurse, password);
  seen.second_step = page.url().endsWith("/sign-in/verify");
  await page.fill("#code", totp(secret, Number(clock) + 60));
  await Promise.all([page.waitForURL("**/account"), page.click("main button[type=submit]")]);
  seen.signed_in = (await page.textContent("#address")).trim();
  console.log(JSON.stringify(seen));
  await browser.close();
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
