// Single sign-on in headless Chromium (playwright-core): an application sends the browser to
// carepost's authorization endpoint; the person signs in on the portal's page and lands back
// at the application with a code (the page's Content-Security-Policy must let the sign-in
// form's redirect chain end at another origin); a public client is confirmed on the consent
// page; and a link on another site brings a signed-in browser straight back with a code (the
// SameSite=Lax twin of the session cookie; the Strict one is not sent on such a navigation).
// The applications' host names are mapped to carepost's own listener, which answers their
// redirect URIs with a 404: the browser's address bar is what the test reads.
// Usage: node sso_browser.cjs BASE_URL EHR_PATH PUBLIC_PATH LOGIN PASSWORD [SCREENSHOT_DIR]
"use strict";
const { chromium } = require("playwright-core");

async function main() {
  const [base, ehrPath, publicPath, login, password, shots] = process.argv.slice(2);
  const port = new URL(base).port;
  const rules = ["ehr.kaiser.org", "rota.kaiser.org"].map((h) => `MAP ${h}:443 127.0.0.1:${port}`);
  const browser = await chromium.launch({
    executablePath: process.env.CAREPOST_CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox", `--host-resolver-rules=${rules.join(", ")}`],
  });
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  const seen = {};
  const code = (u) => new URL(u).searchParams.get("code");

  await page.goto(`${base}${ehrPath}`);
  seen.sign_in_page = new URL(page.url()).pathname;
  await page.fill("#login", login);
  await page.fill("#password", password);
  await Promise.all([
    page.waitForURL((u) => u.host === "ehr.kaiser.org", { timeout: 15000 }),
    page.click("main button[type=submit]"),
  ]);
  seen.ehr_code = code(page.url()) !== null;
  seen.ehr_state = new URL(page.url()).searchParams.get("state");

  await page.goto(`${base}${publicPath}`);
  seen.consent_asked = (await page.locator("#consent-scopes").count()) === 1;
  if (shots) await page.screenshot({ path: `${shots}/consent.png`, fullPage: true });
  await Promise.all([
    page.waitForURL((u) => u.host === "rota.kaiser.org", { timeout: 15000 }),
    page.click("#allow"),
  ]);
  seen.public_code = code(page.url()) !== null;

  // A page of no origin of carepost's (about:blank): the link is a cross-site navigation.
  await page.goto("about:blank");
  await page.setContent(`<a id="open-ehr" href="${base}${ehrPath}">EHR</a>`);
  await Promise.all([
    page.waitForURL((u) => u.host === "ehr.kaiser.org", { timeout: 15000 }),
    page.click("#open-ehr"),
  ]);
  seen.cross_site_code = code(page.url()) !== null;

  await browser.close();
  console.log(JSON.stringify(seen));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
