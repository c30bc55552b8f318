// The portal's calendar page in headless Chromium (playwright-core): an invitation waiting
// for an answer is accepted, a meeting with a colleague and a room is made after checking
// everyone's availability side by side, and the views switch, all from the keyboard's
// buttons; an invitation weeks ahead waits too, and an all-day event sits on its date in a
// time zone west of UTC; the week's time grid places a meeting by its hours, the meeting is
// moved and renamed from the page, and another event cancelled; a booking that waits for
// the reader as an echo cart's delegate is approved. Usage: node calendar_browser.cjs BASE_URL LOGIN PASSWORD COLLEAGUE
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
  const calls = [];
  page.on("response", (r) => { if (r.url().includes("/api/")) calls.push(`${r.request().method()} ${r.status()}`); });
  const shot = async (name) => {
    if (shots) await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
  };
  const seen = {};
  // Waits for the page's status line to say `text`; an error it shows instead fails at once.
  const status = async (text) => {
    await page.waitForFunction((t) => {
      const s = document.getElementById("calendar-status");
      return s.textContent.includes(t) || s.className === "error";
    }, text).catch(async (e) => {
      throw new Error(`waiting for "${text}": ${e.message}; the page said: ${await page.textContent("#calendar-status")}; errors: ${errors}; calls: ${calls.slice(-6)}; heading: ${await page.textContent("#meeting-h")} (was ${seen.edit_heading}, ${seen.edit_room}); invalid: ${await page.$$eval("#meeting-form :invalid", (l) => l.map((x) => x.id + '=' + x.value))}`);
    });
    const said = await page.textContent("#calendar-status");
    if (!said.includes(text)) throw new Error(`the page said: ${said}`);
  };
  await page.goto(`${base}/sign-in`);
  await page.fill("#login", login);
  await page.fill("#password", password);
  await Promise.all([page.waitForURL("**/account"), page.click("main button[type=submit]")]);
  await page.goto(`${base}/calendar`);
  await page.waitForSelector("#invitations li.event", { timeout: 15000 });
  seen.invitation = (await page.textContent("#invitations li.event")).includes("Ward meeting");
  // A booking of an echo cart waits for the reader, its delegate: approved from the page.
  await page.waitForSelector("#bookings li.event", { timeout: 15000 });
  seen.booking = await page.textContent("#bookings li.event");
  await page.click("#bookings li.event button[data-approve]");
  await status("You approved");
  await page.waitForFunction(() => document.getElementById("bookings-section").hidden);
  seen.bookings_hidden_after = true;
  await shot("calendar-invitation");
  await page.click('#invitations li.event button[data-answer="accepted"]');
  await status("You accepted");
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
  await status("is in your calendar");
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

  // The week's time grid places the meeting by its hours; changing it moves it to the
  // afternoon with a new title, and a second event made for the purpose is cancelled.
  await page.click('[data-view="week"]');
  await page.waitForFunction(() => document.getElementById("calendar-view").className === "view-week");
  const timed = '#calendar-view li.event.timed:has-text("Case review")';
  await page.waitForSelector(timed);
  seen.grid_top = await page.$eval(timed, (li) => li.style.top);
  await page.click(`${timed} button[data-edit]`);
  seen.edit_heading = await page.textContent("#meeting-h");
  seen.edit_attendees = await page.inputValue("#meeting-attendees");
  seen.edit_room = await page.inputValue("#meeting-room");
  await page.fill("#meeting-title", "Case review (moved)");
  await page.fill("#meeting-from", "14:00");
  await page.fill("#meeting-to", "15:00");
  await page.click("#create-meeting");
  await status("is changed");
  // Two in the afternoon where the browser is (not where this script runs).
  seen.moved_utc = await page.evaluate((d) => new Date(`${d}T14:00`).toISOString()
    .replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z"), date);
  await page.waitForSelector('#calendar-view li.event.timed:has-text("Case review (moved)")');
  seen.moved_top = await page.$eval('#calendar-view li.event.timed:has-text("Case review (moved)")', (li) => li.style.top);
  await shot("calendar-week-grid");
  await page.fill("#meeting-title", "Coffee");
  await page.fill("#meeting-date", date);
  await page.fill("#meeting-from", "09:00");
  await page.fill("#meeting-to", "09:30");
  await page.click("#create-meeting");
  await status("is in your calendar");
  await page.waitForSelector('#calendar-view li.event.timed:has-text("Coffee") button[data-edit]');
  await page.click('#calendar-view li.event.timed:has-text("Coffee") button[data-edit]');
  page.once("dialog", (d) => d.accept());
  await page.click("#cancel-event");
  await status("is cancelled");
  await page.waitForFunction(() => ![...document.querySelectorAll("#calendar-view li.event")]
    .some((e) => e.textContent.includes("Coffee")));
  seen.coffee_left = await page.$$eval("#calendar-view li.event", (l) => l.filter((e) => e.textContent.includes("Coffee")).length);
  seen.errors = errors;
  console.log(JSON.stringify(seen));
  await browser.close();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
