// The portal's calendar page in headless Chromium (playwright-core): an invitation waiting
// for an answer is accepted, a meeting with a colleague and a room is made after checking
// everyone's availability side by side, and the views switch, all from the keyboard's
// buttons; an invitation weeks ahead waits too, and an all-day event sits on its date in a
// time zone west of UTC. Usage: node calendar_browser.cjs BASE_URL LOGIN PASSWORD COLLEAGUE
// ROOM ALL_DAY_DATE [SHOTS]
// Prints one JSON line with what it saw; exits non-zero on any failure.
"use strict";
const { chromium } = require("playwright-core");

async function main() {
  const [base, login, password, colleague, room, allDay, shots] = process.argv.slice(2);
  const browser = await chromium.launch({
    executablePath: process.env.CAREPOST_CHROMIUM || "/usr/bin/chromium",
    args: ["--no-sandbox"],
  });
  // West of UTC, where an all-day event sent as UTC midnights would fall on the day before.
  const context = await browser.newContext({ ignoreHTTPSErrors: true, timezoneId: "America/Los_Angeles" });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  const shot = async (name) => {
    if (shots) await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
  };
  const seen = {};
  await page.goto(`${base}/sign-in`);
  await page.fill("#login", login);
  await page.fill("#password", password);
  await Promise.all([page.waitForURL("**/account"), page.click("main button[type=submit]")]);
  await page.goto(`${base}/calendar`);
  await page.waitForSelector("#invitations li.event", { timeout: 15000 });
  seen.invitation = (await page.textContent("#invitations li.event")).includes("Ward meeting");
  await shot("calendar-invitation");
  await page.click('#invitations li.event button[data-answer="accepted"]');
  await page.waitForFunction(() => document.getElementById("calendar-status").textContent.includes("You accepted"));
  // The invitation weeks ahead, outside the week on screen, still waits.
  await page.waitForFunction(() => document.querySelectorAll("#invitations li.event").length === 1);
  seen.waiting_after = await page.$$eval("#invitations li.event strong", (l) => l.map((e) => e.textContent));
  seen.week_shows = await page.$$eval("#calendar-view li.event", (l) => l.map((e) => e.textContent));

  const tomorrow = new Date(Date.now() + 86400000);
  const date = `${tomorrow.getFullYear()}-${String(tomorrow.getMonth() + 1).padStart(2, "0")}-${String(tomorrow.getDate()).padStart(2, "0")}`;
  await page.fill("#meeting-title", "Case review");
  await page.fill("#meeting-date", date);
  await page.fill("#meeting-from", "10:00");
  await page.fill("#meeting-to", "11:00");
  await page.fill("#meeting-attendees", colleague);
  await page.waitForSelector(`#meeting-room option[value="${room}"]`, { state: "attached" });
  await page.selectOption("#meeting-room", room);
  await page.click("#check-availability");
  await page.waitForSelector("#freebusy-grid tbody tr");
  seen.grid_rows = await page.$$eval("#freebusy-grid tbody tr", (rows) => rows.map((r) => r.dataset.address));
  seen.proposed_cells = await page.$$eval("#freebusy-grid td.proposed", (c) => c.length);
  await shot("calendar-availability");
  await page.click("#create-meeting");
  await page.waitForFunction(() => document.getElementById("calendar-status").textContent.includes("is in your calendar"));
  await page.click('[data-view="agenda"]');
  await page.waitForFunction(() => document.getElementById("calendar-view").className === "view-agenda");
  await page.waitForFunction(() => document.getElementById("calendar-view").textContent.includes("Case review"));
  seen.agenda = await page.$$eval("#calendar-view li.event strong", (l) => l.map((e) => e.textContent));
  // The all-day event is on its own date, and on that date only.
  seen.all_day_on = await page.$$eval("#calendar-view section.day", (days) =>
    days.filter((d) => d.textContent.includes("Staff day")).map((d) => d.getAttribute("aria-label")));
  seen.all_day_want = await page.evaluate((d) => new Intl.DateTimeFormat(undefined,
    { weekday: "long", day: "numeric", month: "long", year: "numeric" })
    .format(new Date(+d.slice(0, 4), +d.slice(4, 6) - 1, +d.slice(6, 8))), allDay);
  await shot("calendar-agenda");
  await page.click('[data-view="day"]');
  seen.day_title = await page.textContent("#calendar-range");
  seen.errors = errors;
  console.log(JSON.stringify(seen));
  await browser.close();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
