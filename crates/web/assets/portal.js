// carepost portal: the little the browser must do itself. Passkeys (WebAuthn) need
// navigator.credentials, which takes binary fields; the server speaks base64url JSON.
"use strict";

const b64url = {
  decode(s) {
    const b = atob(s.replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(b, (c) => c.charCodeAt(0)).buffer;
  },
  encode(buf) {
    let s = "";
    for (const byte of new Uint8Array(buf)) s += String.fromCharCode(byte);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  },
};

async function api(path, body) {
  const r = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-Carepost-Request": "1" },
    credentials: "same-origin",
    body: JSON.stringify(body),
  });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) {
    confirmFirstIf(data);
    throw new Error(data.message || "something went wrong; try again");
  }
  return data;
}

// A change refused for want of a recent second factor: the confirmation page, then back here.
function confirmFirstIf(data) {
  if (data.error === "step_up_required") {
    const back = window.location.pathname;
    window.location.assign(`/account/confirm?next=${encodeURIComponent(back)}`);
  }
}

function showError(id, e) {
  const el = document.getElementById(id);
  el.textContent = e.name === "NotAllowedError"
    ? "The passkey was not used (cancelled, or timed out). Try again."
    : e.message;
  el.hidden = false;
}

// A passkey's answer to the challenge `challengePath` gives, sent to `answerPath`; then the
// page goes to the button's `data-next` (checked by the server when it drew the page).
async function provePasskey(button, challengePath, answerPath, fallback) {
  try {
    const c = await api(challengePath, {});
    const o = c.options.publicKey;
    o.challenge = b64url.decode(o.challenge);
    for (const a of o.allowCredentials || []) a.id = b64url.decode(a.id);
    const cred = await navigator.credentials.get({ publicKey: o });
    const credential = {
      id: cred.id,
      rawId: b64url.encode(cred.rawId),
      type: cred.type,
      response: {
        authenticatorData: b64url.encode(cred.response.authenticatorData),
        clientDataJSON: b64url.encode(cred.response.clientDataJSON),
        signature: b64url.encode(cred.response.signature),
        userHandle: cred.response.userHandle ? b64url.encode(cred.response.userHandle) : null,
      },
      extensions: cred.getClientExtensionResults(),
    };
    await api(answerPath, { passkey: { ceremony: c.ceremony, credential } });
    const next = button.dataset.next ? new URL(button.dataset.next, window.location.origin) : null;
    window.location.assign(next && next.origin === window.location.origin ? next.href : fallback);
  } catch (e) {
    showError("passkey-error", e);
  }
}

function signInWithPasskey() {
  return provePasskey(document.getElementById("use-passkey"), "/api/v1/auth/passkey-challenge",
    "/api/v1/auth/second-factor", "/account");
}

function confirmWithPasskey() {
  return provePasskey(document.getElementById("confirm-passkey"),
    "/api/v1/me/step-up/passkey-challenge", "/api/v1/me/step-up", "/account");
}

async function registerPasskey() {
  const name = document.getElementById("passkey-name").value.trim() || "Passkey";
  const password = document.getElementById("passkey-password").value;
  try {
    const c = await api("/api/v1/me/passkeys/registration", { password });
    const o = c.options.publicKey;
    o.challenge = b64url.decode(o.challenge);
    o.user.id = b64url.decode(o.user.id);
    for (const x of o.excludeCredentials || []) x.id = b64url.decode(x.id);
    const cred = await navigator.credentials.create({ publicKey: o });
    const credential = {
      id: cred.id,
      rawId: b64url.encode(cred.rawId),
      type: cred.type,
      response: {
        attestationObject: b64url.encode(cred.response.attestationObject),
        clientDataJSON: b64url.encode(cred.response.clientDataJSON),
        transports: cred.response.getTransports ? cred.response.getTransports() : undefined,
      },
      extensions: cred.getClientExtensionResults(),
    };
    const done = await api("/api/v1/me/passkeys", { ceremony: c.ceremony, name, credential });
    if (done.recovery_codes) {
      const box = document.getElementById("add-passkey");
      box.replaceChildren();
      const p = document.createElement("p");
      p.className = "notice";
      p.textContent = "Passkey added. These recovery codes let you in if you lose it; each works once. They are shown only now: copy them somewhere safe. App passwords made before your first second factor no longer work: make new ones for your mail apps.";
      const ul = document.createElement("ul");
      ul.id = "secrets";
      ul.className = "secrets";
      for (const code of done.recovery_codes) {
        const li = document.createElement("li");
        const cd = document.createElement("code");
        cd.textContent = code;
        li.append(cd);
        ul.append(li);
      }
      const a = document.createElement("a");
      a.href = "/account";
      a.textContent = "Done";
      box.append(p, ul, a);
    } else {
      window.location.assign("/account");
    }
  } catch (e) {
    showError("passkey-error", e);
  }
}

// The create form shows the address the policy would give the typed name.
function previewAddress() {
  const out = document.getElementById("address-preview");
  if (!out) return;
  let timer = null;
  const update = async () => {
    const q = new URLSearchParams();
    for (const f of ["first", "middle", "last", "preferred"]) q.set(f, document.getElementById(f).value);
    if (!q.get("first") || !q.get("last")) return;
    const r = await fetch(`/api/v1/address-preview?${q}`, { credentials: "same-origin" });
    const data = await r.json().catch(() => ({}));
    out.textContent = r.ok ? data.address : (data.message || "no address");
  };
  for (const f of ["first", "middle", "last", "preferred"]) {
    document.getElementById(f).addEventListener("input", () => {
      clearTimeout(timer);
      timer = setTimeout(update, 250);
    });
  }
}

// The HR import: the file goes to the API as the request body; the report comes back.
async function runImport() {
  const file = document.getElementById("import-file").files[0];
  const out = document.getElementById("import-result");
  const list = document.getElementById("import-errors");
  if (!file) return;
  out.hidden = false;
  out.textContent = "Importing…";
  list.replaceChildren();
  const r = await fetch("/api/v1/import", {
    method: "POST",
    headers: { "Content-Type": "text/csv", "X-Carepost-Request": "1" },
    credentials: "same-origin",
    body: file,
  });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) {
    confirmFirstIf(data);
    out.textContent = data.message || "The import failed.";
    return;
  }
  const warned = (data.warnings || []).length;
  out.textContent = `${data.rows} rows: ${data.created} created, ${data.renamed} renamed, ${data.updated} updated, ${data.unchanged} unchanged, ${data.failed} refused, ${warned} with a warning.`;
  // Refused rows first, then rows applied with a warning, each in line order.
  for (const [kind, rows] of [["refused", data.errors], ["warning", data.warnings]]) {
    for (const e of rows || []) {
      const li = document.createElement("li");
      li.className = kind === "refused" ? "error" : "warning";
      li.textContent = `line ${e.line}${e.employee_id ? ` (${e.employee_id})` : ""}, ${kind}: ${e.reason}`;
      list.append(li);
    }
  }
}

// The password page says, as the new password is typed, which rules it does not meet yet:
// the server's own rules and words (the history is checked when it is set).
function passwordFeedback() {
  const input = document.getElementById("new");
  const out = document.getElementById("password-feedback");
  if (!input || !out) return;
  let timer = null;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      if (!input.value) return out.replaceChildren();
      try {
        const r = await api("/api/v1/me/password/check", { new: input.value });
        const items = r.ok ? ["Meets the policy."] : r.problems;
        out.replaceChildren(...items.map((t) => Object.assign(document.createElement("li"), { textContent: t })));
      } catch (e) {
        out.replaceChildren();
      }
    }, 300);
  });
}

// Times come from the server in UTC (RFC 3339); shown in the reader's own time zone.
function localTimes() {
  // The viewer's own zone, named: a ward in another zone must not misread a lock's end.
  const fmt = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric", hour: "numeric", minute: "2-digit",
    timeZoneName: "short",
  });
  for (const t of document.querySelectorAll("time[datetime]")) {
    const d = new Date(t.getAttribute("datetime"));
    if (!isNaN(d)) {
      t.title = t.getAttribute("datetime");
      t.textContent = fmt.format(d);
    }
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const use = document.getElementById("use-passkey");
  if (use) use.addEventListener("click", signInWithPasskey);
  const confirmPasskey = document.getElementById("confirm-passkey");
  if (confirmPasskey) confirmPasskey.addEventListener("click", confirmWithPasskey);
  const add = document.getElementById("register-passkey");
  if (add) add.addEventListener("click", registerPasskey);
  previewAddress();
  passwordFeedback();
  localTimes();
  const imp = document.getElementById("run-import");
  if (imp) imp.addEventListener("click", runImport);
  // The accounts table's "pick every row" box.
  const all = document.getElementById("pick-all");
  if (all) all.addEventListener("change", () => {
    for (const b of document.querySelectorAll('#accounts input[name="pick"]')) b.checked = all.checked;
  });
  // The policy allows no inline handler, so the print button is wired here.
  const print = document.getElementById("print-slips");
  if (print) print.addEventListener("click", () => window.print());
});
