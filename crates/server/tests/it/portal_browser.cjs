// The portal in headless Chromium, driven by playwright-core, with Chromium's virtual
// authenticator (DevTools WebAuthn domain) standing in for a platform passkey: sign in with
// the password, register a passkey, sign out, sign in again with the password and the passkey,
// then forget the password and set a new one with a recovery code.
// Usage: node portal_browser.cjs BASE_URL LOGIN PASSWORD NEW_PASSWORD [SCREENSHOT_DIR]
// Prints one JSON line with what it saw; exits non-zero on any failure.
"use strict";
const { chromium } = require("playwright-core");

async function main() {
  const [base, login, password, newPassword, shots] = process.argv.slice(2);
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
  const codes = await page.$$eval("#secrets code", (els) => els.map((e) => e.textContent));
  seen.recovery_codes = codes.length;
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

  // Forgot the password: a recovery code proves the person and sets a new one.
  await Promise.all([page.waitForURL("**/sign-in"), page.click("header button.link")]);
  await Promise.all([page.waitForURL("**/forgot"), page.click("a[href='/forgot']")]);
  await shot("forgot");
  await page.fill("#login", login);
  await page.fill("#code", codes[0]);
  await page.fill("#new_password", newPassword);
  await page.click("main button[type=submit]");
  await page.waitForSelector("p.notice");
  seen.recovery_notices = await page.$$eval("p.notice", (ps) => ps.map((p) => p.textContent));
  await page.goto(`${base}/sign-in`);
  await page.fill("#login", login);
  await page.fill("#password", newPassword);
  await Promise.all([page.waitForURL("**/sign-in/verify"), page.click("main button[type=submit]")]);
  await Promise.all([page.waitForURL("**/account", { timeout: 15000 }), page.click("#use-passkey")]);
  seen.activity = await page.$$eval("#activity tbody tr", (rows) => rows.map((r) => r.cells[1].textContent));

  // The password page's live feedback, in the server's words.
  await page.goto(`${base}/account/password`);
  await page.fill("#new", "short");
  await page.waitForFunction(() => /shorter than/.test(document.getElementById("password-feedback").textContent));
  seen.feedback_weak = await page.textContent("#password-feedback");
  await page.fill("#new", "violet harbor cactus meteor 77");
  await page.waitForFunction(() => /Meets the policy/.test(document.getElementById("password-feedback").textContent));
  await shot("password");
  console.log(JSON.stringify(seen));
  await browser.close();
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : e);
  process.exit(1);
});
