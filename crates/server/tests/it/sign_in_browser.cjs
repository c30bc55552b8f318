// Shared by the browser scripts: RFC 6238 codes and the portal's sign-in with its second step.
// The server's clock stands still in tests, so codes are computed for a time the test gives.
"use strict";
const crypto = require("crypto");

// RFC 6238 with SHA-1, 6 digits, 30 s steps; the secret is RFC 4648 base32.
function totp(secret, unix) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of secret.replace(/=+$/, "").toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(unix / 30)));
  const mac = crypto.createHmac("sha1", key).update(counter).digest();
  const off = mac[mac.length - 1] & 15;
  return String((mac.readUInt32BE(off) & 0x7fffffff) % 1000000).padStart(6, "0");
}

// Signs in with the password; with `secret` (and the server's time `unix`), answers the second
// step with the authenticator's code. Without one, it stops where the server sent it.
async function signIn(page, base, login, password, secret, unix) {
  await page.goto(`${base}/sign-in`);
  await page.fill("#login", login);
  await page.fill("#password", password);
  await Promise.all([
    page.waitForURL((url) => !url.pathname.endsWith("/sign-in")),
    page.click("main button[type=submit]"),
  ]);
  if (secret && page.url().endsWith("/sign-in/verify")) {
    await page.fill("#code", totp(secret, Number(unix)));
    await Promise.all([
      page.waitForURL((url) => !url.pathname.endsWith("/sign-in/verify")),
      page.click("form[action='/sign-in/verify'] button[type=submit]"),
    ]);
  }
}

module.exports = { totp, signIn };
