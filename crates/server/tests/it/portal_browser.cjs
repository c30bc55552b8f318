// The portal in headless Chromium, driven by playwright-core, with Chromium's virtual
// authenticator (DevTools WebAuthn domain) standing in for a platform passkey: sign in with
// the password, register a passkey, sign out, sign in again with the password and the passkey.
// Usage: node portal_browser.cjs BASE_URL LOGIN PASSWORD [SCREENSHOT_DIR]
// Prints one JSON line with what it saw; exits non-zero on any failure.
"use strict";
const { chromium } = require("playwright-core");

async function main() {
  const [base, login, password, shots] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.CAREPOST_CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox"],
  });
  const context = await browser.newContext({ ignoreHTTPSErrors: true });
  const page = await context.newPage();
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  const shot = async (name) => {
    if (shots) await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
  };
  const seen = {};

  await page.goto(`${base}/sign-in`);
  await shot("sign-in");
  await page.fill("#login", login);
  await page.fill("#password", password);
  await Promise.all([page.waitForURL("**/account"), page.click("main button[type=submit]")]);

  await page.fill("#passkey-name", "Chromium");
  await page.fill("#passkey-password", password);
  await page.click("#register-passkey");
  await page.waitForSelector("#secrets li", { timeout: 15000 });
  seen.recovery_codes = await page.$$eval("#secrets code", (els) => els.length);
  await Promise.all([page.waitForURL("**/account"), page.click("#add-passkey a")]);
  seen.passkeys = await page.$$eval("#passkeys tbody tr", (rows) => rows.map((r) => r.cells[0].textContent));
  await shot("account");
  const creds = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
  seen.credentials_on_device = creds.credentials.length;

  await Promise.all([page.waitForURL("**/sign-in"), page.click("header button.link")]);
  await page.fill("#login", login);
  await page.fill("#password", password);
  await Promise.all([page.waitForURL("**/sign-in/verify"), page.click("main button[type=submit]")]);
  await shot("second-step");
  await Promise.all([page.waitForURL("**/account", { timeout: 15000 }), page.click("#use-passkey")]);
  seen.signed_in_again = (await page.textContent("#address")).trim();
  const after = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
  seen.sign_count = after.credentials[0].signCount;

  // A page of another origin cannot use the passkey: its browser refuses the relying party.
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  seen.errors = errors;
  console.log(JSON.stringify(seen));
  await browser.close();
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
