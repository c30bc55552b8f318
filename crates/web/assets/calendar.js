// carepost portal: the calendar page. The server answers in UTC (the JSON API's
// /me/calendar, /freebusy, /resources); this draws the day, week and agenda views in the
// reader's own time zone (a time grid for a day or a week, a list for the agenda), answers
// invitations, makes meetings with the free/busy of everyone invited, rooms included, side
// by side, changes or cancels one's own events, and approves or declines the bookings that
// wait for the reader as a room's delegate. Everything it shows is text in DOM nodes
// (never HTML from the server), and every button is a real button, so the keyboard works.
"use strict";

const cal = {
  view: "week",
  day: startOfDay(new Date()),
  // The event the meeting form is changing (null: it makes a new one).
  editing: null,
};

function startOfDay(d) {
  const x = new Date(d);
  x.setHours(0, 0, 0, 0);
  return x;
}

function addDays(d, n) {
  const x = new Date(d);
  x.setDate(x.getDate() + n);
  return x;
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v;
    else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

async function request(method, path, body) {
  const r = await fetch(path, {
    method,
    headers: body === undefined
      ? { "X-Carepost-Request": "1" }
      : { "Content-Type": "application/json", "X-Carepost-Request": "1" },
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const data = r.status === 204 ? {} : await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(data.message || `the server answered ${r.status}`);
  return data;
}

// The range the view shows: a day, the week from Monday, or two weeks of agenda.
function range() {
  if (cal.view === "day") return [cal.day, addDays(cal.day, 1)];
  if (cal.view === "agenda") return [cal.day, addDays(cal.day, 14)];
  const monday = addDays(cal.day, -((cal.day.getDay() + 6) % 7));
  return [monday, addDays(monday, 7)];
}

const timeFmt = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
const dayFmt = new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric", month: "short" });
const longDay = new Intl.DateTimeFormat(undefined, { weekday: "long", day: "numeric", month: "long", year: "numeric" });

// When an event is, in the reader's time: an all-day event is a span of dates (sent as UTC
// midnights), so it is placed on those dates wherever the reader is, not on the UTC day's
// local hours.
function spanOf(e) {
  if (!e.all_day) return [e.start * 1000, e.end * 1000];
  const local = (t) => {
    const d = new Date(t * 1000);
    return new Date(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()).getTime();
  };
  return [local(e.start), local(e.end)];
}

// Invitations are looked for this far ahead, whatever range is on screen (the API answers
// at most 62 days at once).
const INVITATION_DAYS = 60;

function say(text, isError) {
  const s = document.getElementById("calendar-status");
  s.textContent = text;
  s.className = isError ? "error" : "notice";
  s.hidden = !text;
}

// Whether the reader may change the event here: the server says so (their own calendar and
// not someone else's meeting, as the change itself is checked), and it is not cancelled.
function isMine(e) {
  return e.editable && !e.cancelled;
}

// One event as a list item; `compact` in the time grid, where the box is small and its
// place already says when it is (the time is still written, for a screen reader).
function eventItem(e, compact) {
  const start = new Date(e.start * 1000);
  const end = new Date(e.end * 1000);
  const when = e.all_day ? "all day" : `${timeFmt.format(start)}–${timeFmt.format(end)}`;
  const li = el("li", { class: "event" + (e.cancelled ? " cancelled" : ""), "data-uid": e.uid });
  // In the grid, one's own event is a button as large as its box (a click anywhere on it
  // changes it); in the agenda, a Change button follows it.
  const own = isMine(e);
  const body = compact && own ? el("button", { type: "button", class: "event-open", "data-edit": e.object }) : li;
  // In the grid the title comes first: a short box shows it before the time.
  const title = el("strong", {}, e.summary || "(no title)");
  const time = el("span", { class: "when" }, when);
  if (compact && e.all_day) body.append(title);
  else if (compact) body.append(title, " ", time);
  else body.append(time, " ", title);
  if (e.location) body.append(" · ", e.location);
  const from = e.owner ? ` (${e.owner})` : "";
  if (!compact) li.append(el("span", { class: "hint" }, ` ${e.calendar_name}${from}`));
  li.title = `${when} ${e.summary}${e.location ? ` · ${e.location}` : ""} — ${e.calendar_name}${from}`;
  if (e.cancelled) li.append(el("span", { class: "badge" }, "cancelled"));
  if (own && body !== li) {
    body.addEventListener("click", () => edit(e));
    li.append(body);
  } else if (own) {
    const b = el("button", { type: "button", class: "secondary small", "data-edit": e.object }, "Change");
    b.setAttribute("aria-label", `Change “${e.summary}”`);
    b.addEventListener("click", () => edit(e));
    li.append(" ", b);
  }
  if (e.my_answer) {
    li.append(" ", el("span", { class: "badge answer" }, e.my_answer.replace("-", " ")));
    if (!e.cancelled && !e.owner && !compact) {
      for (const [answer, label] of [["accepted", "Accept"], ["tentative", "Maybe"], ["declined", "Decline"]]) {
        if (e.my_answer === answer) continue;
        const b = el("button", { type: "button", class: "secondary", "data-answer": answer }, label);
        b.addEventListener("click", () => answer_(e, answer));
        li.append(" ", b);
      }
    }
  }
  return li;
}

async function answer_(e, answer) {
  try {
    await request("POST", `/api/v1/me/calendar/events/${encodeURIComponent(e.calendar)}/${encodeURIComponent(e.object)}/answer`, { answer });
    say(`You ${answer === "tentative" ? "answered maybe to" : answer} “${e.summary}”.`);
    await load();
  } catch (err) {
    say(err.message, true);
  }
}

let generation = 0;

async function load() {
  const mine = ++generation;
  const [from, to] = range();
  const title = document.getElementById("calendar-range");
  title.textContent = cal.view === "day"
    ? longDay.format(from)
    : `${dayFmt.format(from)} – ${dayFmt.format(addDays(to, -1))}`;
  let events = [];
  let coming = [];
  try {
    const q = `start=${from.toISOString()}&end=${to.toISOString()}`;
    const today = startOfDay(new Date());
    const ahead = `start=${today.toISOString()}&end=${addDays(today, INVITATION_DAYS).toISOString()}`;
    [events, coming] = await Promise.all([
      request("GET", `/api/v1/me/calendar?${q}`).then((r) => r.events),
      request("GET", `/api/v1/me/calendar?${ahead}`).then((r) => r.events),
    ]);
  } catch (err) {
    say(err.message, true);
  }
  // A later click asked for another range meanwhile: its answer draws, not this one.
  if (mine !== generation) return;
  const box = document.getElementById("calendar-view");
  box.replaceChildren();
  const days = Math.round((to - from) / 86400000);
  // Waiting invitations: those of the coming weeks and those on screen, each meeting once.
  const seen = new Set();
  const waiting = coming.concat(events).filter((e) => {
    if (e.my_answer !== "needs-action" || e.cancelled || e.owner) return false;
    const key = `${e.calendar}/${e.object}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  const inv = document.getElementById("invitations");
  inv.replaceChildren(...waiting.map(eventItem));
  document.getElementById("invitations-none").hidden = waiting.length > 0;
  const perDay = [];
  for (let i = 0; i < days; i++) {
    const d0 = addDays(from, i);
    const d1 = addDays(from, i + 1);
    perDay.push([d0, d1, events.filter((e) => {
      const [s, t] = spanOf(e);
      return s < d1 && (t > d0 || (t === s && s >= d0));
    })]);
  }
  if (cal.view === "agenda") {
    for (const [d0, , todays] of perDay) {
      if (todays.length === 0) continue;
      const section = dayHead(d0);
      section.append(el("ul", { class: "events" }, ...todays.map((e) => eventItem(e))));
      box.append(section);
    }
    if (box.children.length === 0) box.append(el("p", { class: "hint" }, "Nothing in these two weeks."));
  } else {
    timeGrid(box, perDay);
  }
  box.className = `view-${cal.view}`;
}

function dayHead(d0, format) {
  const section = el("section", { class: "day", "aria-label": longDay.format(d0) });
  const isToday = d0.getTime() === startOfDay(new Date()).getTime();
  section.append(el("h3", { class: isToday ? "today" : "" }, (format || dayFmt).format(d0)));
  return section;
}

// A week's column heading: narrow, so the weekday and the date only.
const columnFmt = new Intl.DateTimeFormat(undefined, { weekday: "short", day: "numeric" });

// Height of an hour in the time grid, in rem (the stylesheet draws its lines at this step),
// and of an all-day event's line above it (every column has as many lines, so the hours
// line up across the week).
const HOUR_REM = 2;
const ALL_DAY_REM = 1.5;

// The day and week views: a column per day with its all-day events on top and the others
// placed by their hours over the whole day (night shifts too), side by side where they
// overlap; a column of hours on the left.
function timeGrid(box, perDay) {
  const longest = Math.max(0, ...perDay.map(([, , t]) => t.filter((e) => e.all_day).length));
  const axis = el("div", { class: "day axis", "aria-hidden": "true" }, el("h3", {}, " "));
  const spacer = el("ul", { class: "events all-day" });
  spacer.style.height = `${longest * ALL_DAY_REM}rem`;
  const labels = el("ul", { class: "hours" });
  labels.style.height = `${24 * HOUR_REM}rem`;
  for (let h = 0; h < 24; h++) {
    const at = new Date(2000, 0, 1, h);
    const label = el("li", {}, timeFmt.format(at));
    label.style.top = `${h * HOUR_REM}rem`;
    labels.append(label);
  }
  axis.append(spacer, labels);
  box.append(axis);
  for (const [d0, d1, todays] of perDay) {
    const section = dayHead(d0, perDay.length > 1 ? columnFmt : longDay);
    const allDay = el("ul", { class: "events all-day" }, ...todays.filter((e) => e.all_day).map((e) => eventItem(e, true)));
    allDay.style.height = `${longest * ALL_DAY_REM}rem`;
    const timed = todays.filter((e) => !e.all_day).map((e) => {
      const [s, t] = spanOf(e);
      // A moment (no length) is drawn a quarter of an hour long.
      const a = Math.max(s, d0.getTime());
      const b = Math.min(Math.max(t, s + 900000), d1.getTime());
      return { e, a: (a - d0) / 60000, b: (b - d0) / 60000 };
    }).sort((x, y) => x.a - y.a || y.b - x.b);
    inLanes(timed);
    const hours = el("ul", { class: "events hours" });
    hours.style.height = `${((d1 - d0) / 3600000) * HOUR_REM}rem`;
    for (const it of timed) {
      const li = eventItem(it.e, true);
      li.classList.add("timed");
      li.style.top = `${(it.a / 60) * HOUR_REM}rem`;
      li.style.height = `${Math.max(((it.b - it.a) / 60) * HOUR_REM, 1.2)}rem`;
      li.style.left = `${(it.lane / it.of) * 100}%`;
      li.style.width = `${100 / it.of}%`;
      hours.append(li);
    }
    if (todays.length === 0) section.setAttribute("aria-description", "nothing");
    section.append(allDay, hours);
    box.append(section);
  }
}

// Overlapping events share the width of their day: each takes the first lane free at its
// start, and every event of a run of overlaps is as wide as that run has lanes.
function inLanes(items) {
  let run = [];
  let runEnd = -Infinity;
  let laneEnds = [];
  const close = () => {
    for (const it of run) it.of = laneEnds.length;
    run = [];
    laneEnds = [];
  };
  for (const it of items) {
    if (it.a >= runEnd) close();
    let lane = laneEnds.findIndex((end) => end <= it.a);
    if (lane < 0) {
      lane = laneEnds.length;
      laneEnds.push(it.b);
    } else {
      laneEnds[lane] = it.b;
    }
    it.lane = lane;
    run.push(it);
    runEnd = Math.max(runEnd, it.b);
  }
  close();
}

// The meeting form's free/busy: one row per person or room over the chosen day, in
// half-hour cells, with the proposed time outlined.
async function availability() {
  const f = document.getElementById("meeting-form");
  const who = attendeesOf(f);
  const grid = document.getElementById("availability");
  grid.replaceChildren();
  const date = f.elements.date.value;
  if (!date || who.length === 0) {
    say("Choose a day and at least one person or room first.", true);
    return;
  }
  const day = new Date(`${date}T00:00`);
  const q = `attendees=${encodeURIComponent(who.join(","))}&start=${day.toISOString()}&end=${addDays(day, 1).toISOString()}`;
  let fb;
  try {
    fb = await request("GET", `/api/v1/freebusy?${q}`);
  } catch (err) {
    say(err.message, true);
    return;
  }
  const [start, end] = proposed(f);
  const table = el("table", { class: "freebusy", id: "freebusy-grid" });
  const head = el("tr", {}, el("th", { scope: "col" }, "Who"));
  for (let h = 7; h < 20; h++) head.append(el("th", { scope: "col", colspan: "2" }, String(h)));
  table.append(el("thead", {}, head));
  const body = el("tbody");
  for (const a of fb.attendees) {
    const row = el("tr", { "data-address": a.address }, el("th", { scope: "row" }, a.known ? a.address : `${a.address} (unknown)`));
    for (let slot = 14; slot < 40; slot++) {
      const s = addDays(day, 0).getTime() + slot * 1800000;
      const e = s + 1800000;
      const hit = a.busy.find((b) => new Date(b.start) < e && new Date(b.end) > s);
      const mine = start && start.getTime() < e && end.getTime() > s;
      const cell = el("td", { class: (hit ? hit.kind : "free") + (mine ? " proposed" : "") });
      cell.title = hit ? hit.kind : "free";
      cell.append(hit ? (hit.kind === "busy" ? "■" : "▒") : "");
      row.append(cell);
    }
    body.append(row);
  }
  table.append(body);
  grid.append(table, el("p", { class: "hint" }, "■ busy, ▒ tentative; the outlined cells are the time you chose."));
}

function attendeesOf(f) {
  const people = f.elements.attendees.value.split(/[,;\s]+/).map((a) => a.trim()).filter(Boolean);
  const room = f.elements.room.value;
  return room ? [...people, room] : people;
}

// The form's times; an end at or before the start is on the next day (a night shift).
function proposed(f) {
  const { date, from, to } = f.elements;
  if (!date.value || !from.value || !to.value) return [null, null];
  const start = new Date(`${date.value}T${from.value}`);
  let end = new Date(`${date.value}T${to.value}`);
  if (end <= start) end = addDays(end, 1);
  return [start, end];
}

function pad(n) {
  return String(n).padStart(2, "0");
}

// Changing an event: the meeting form takes its values, and saving sends only what the
// form holds; a recurring event's times, and those of one longer than a day, stay as they
// are (a calendar app changes them).
function edit(e) {
  const f = document.getElementById("meeting-form");
  cal.editing = e;
  const start = new Date(e.start * 1000);
  const end = new Date(e.end * 1000);
  const fixed = e.recurring || e.all_day || e.end - e.start >= 86400;
  f.elements.title.value = e.summary;
  f.elements.date.value = `${start.getFullYear()}-${pad(start.getMonth() + 1)}-${pad(start.getDate())}`;
  f.elements.from.value = `${pad(start.getHours())}:${pad(start.getMinutes())}`;
  f.elements.to.value = `${pad(end.getHours())}:${pad(end.getMinutes())}`;
  for (const name of ["date", "from", "to"]) f.elements[name].disabled = fixed;
  f.elements.location.value = e.location;
  const rooms = new Set([...f.elements.room.options].map((o) => o.value).filter(Boolean));
  const room = e.invited.find((a) => rooms.has(a)) || "";
  f.elements.room.value = room;
  f.elements.attendees.value = e.invited.filter((a) => a !== room).join(", ");
  // Saving sends the attendees only when they were changed here.
  cal.invitedBefore = attendeesOf(f).join(",");
  document.getElementById("meeting-h").textContent = `Change “${e.summary}”`;
  document.getElementById("times-fixed").hidden = !fixed;
  document.getElementById("create-meeting").textContent = "Save changes";
  document.getElementById("cancel-event").hidden = false;
  document.getElementById("stop-editing").hidden = false;
  f.scrollIntoView();
  f.elements.title.focus();
}

function stopEditing() {
  const f = document.getElementById("meeting-form");
  cal.editing = null;
  f.reset();
  for (const name of ["date", "from", "to"]) f.elements[name].disabled = false;
  document.getElementById("meeting-h").textContent = "New meeting";
  document.getElementById("times-fixed").hidden = true;
  document.getElementById("create-meeting").textContent = "Create";
  document.getElementById("cancel-event").hidden = true;
  document.getElementById("stop-editing").hidden = true;
  document.getElementById("availability").replaceChildren();
}

function eventPath(e) {
  return `/api/v1/me/calendar/events/${encodeURIComponent(e.calendar)}/${encodeURIComponent(e.object)}`;
}

async function createMeeting(ev) {
  ev.preventDefault();
  const f = ev.target;
  const editing = cal.editing;
  const [start, end] = proposed(f);
  if (!start) {
    say("Choose the day and the times.", true);
    return;
  }
  const body = {
    title: f.elements.title.value,
    location: f.elements.location.value,
    attendees: attendeesOf(f),
  };
  if (editing && body.attendees.join(",") === cal.invitedBefore) delete body.attendees;
  if (!editing || !f.elements.date.disabled) {
    body.start = Math.floor(start / 1000);
    body.end = Math.floor(end / 1000);
  }
  try {
    if (editing) {
      await request("PATCH", eventPath(editing), body);
      say(`“${body.title}” is changed; the people and rooms invited are told.`);
    } else {
      await request("POST", "/api/v1/me/calendar/events", body);
      say(`“${body.title}” is in your calendar; the people and rooms invited are told.`);
    }
    cal.day = startOfDay(start);
    stopEditing();
    await load();
  } catch (err) {
    say(err.message, true);
  }
}

async function cancelEvent() {
  const e = cal.editing;
  if (!e) return;
  const what = e.recurring ? `every occurrence of “${e.summary}”` : `“${e.summary}”`;
  if (!window.confirm(`Cancel ${what}? Everyone invited is told, and rooms are freed.`)) return;
  try {
    await request("DELETE", eventPath(e));
    say(`“${e.summary}” is cancelled.`);
    stopEditing();
    await load();
  } catch (err) {
    say(err.message, true);
  }
}

// Bookings of rooms and equipment that wait for the reader as their delegate; the section
// stays hidden for everyone else.
async function bookings() {
  let waiting = [];
  try {
    waiting = (await request("GET", "/api/v1/me/bookings")).bookings;
  } catch (err) {
    say(err.message, true);
  }
  document.getElementById("bookings-section").hidden = waiting.length === 0;
  document.getElementById("bookings").replaceChildren(...waiting.map(bookingItem));
}

function bookingItem(b) {
  const li = el("li", { class: "event", "data-booking": String(b.id) });
  const title = b.summary || "(no title)";
  // The end is the last instance's: a recurring or multi-day booking shows both dates.
  const from = b.starts_at ? new Date(b.starts_at) : null;
  const to = b.ends_at ? new Date(b.ends_at) : from;
  let when = "";
  if (from && startOfDay(from).getTime() === startOfDay(to).getTime()) {
    when = `${dayFmt.format(from)} ${timeFmt.format(from)}–${timeFmt.format(to)}`;
  } else if (from) {
    when = `${dayFmt.format(from)} ${timeFmt.format(from)} – ${dayFmt.format(to)} ${timeFmt.format(to)}`;
  }
  li.append(el("span", { class: "when" }, when), " ", el("strong", {}, title),
    el("span", { class: "hint" }, ` ${b.resource}, asked by ${b.organizer}`));
  const reason = el("input", { type: "text", maxlength: "300", placeholder: "reason, when declining" });
  reason.setAttribute("aria-label", `Reason for declining “${title}”`);
  const approve = el("button", { type: "button", class: "secondary", "data-approve": String(b.id) }, "Approve");
  approve.setAttribute("aria-label", `Approve “${title}” in ${b.resource}`);
  const decline = el("button", { type: "button", class: "danger", "data-decline": String(b.id) }, "Decline");
  decline.setAttribute("aria-label", `Decline “${title}” in ${b.resource}`);
  const base = `/api/v1/resources/${encodeURIComponent(b.resource)}/bookings/${b.id}`;
  // One answer at a time: both buttons wait while it is sent.
  const buttons = [approve, decline];
  approve.addEventListener("click", () =>
    decide(buttons, `${base}/approve`, undefined, `You approved “${title}”.`));
  decline.addEventListener("click", () =>
    decide(buttons, `${base}/decline`, { reason: reason.value.trim() || null }, `You declined “${title}”.`));
  li.append(" ", approve, " ", reason, " ", decline);
  return li;
}

async function decide(buttons, path, body, done) {
  for (const b of buttons) b.disabled = true;
  try {
    await request("POST", path, body);
    say(done);
  } catch (err) {
    say(err.message, true);
  }
  await bookings();
}

async function rooms() {
  try {
    const all = (await request("GET", "/api/v1/resources")).resources;
    const select = document.getElementById("meeting-room");
    for (const r of all) {
      const label = `${r.name}${r.capacity ? ` (${r.capacity})` : ""}`;
      select.append(el("option", { value: r.address }, label));
    }
  } catch (err) {
    say(err.message, true);
  }
}

document.addEventListener("DOMContentLoaded", () => {
  if (!document.getElementById("calendar-view")) return;
  for (const b of document.querySelectorAll("[data-view]")) {
    b.addEventListener("click", () => {
      cal.view = b.dataset.view;
      for (const o of document.querySelectorAll("[data-view]")) o.setAttribute("aria-pressed", String(o === b));
      load();
    });
  }
  const step = (n) => () => {
    cal.day = addDays(cal.day, cal.view === "day" ? n : cal.view === "week" ? 7 * n : 14 * n);
    load();
  };
  document.getElementById("calendar-prev").addEventListener("click", step(-1));
  document.getElementById("calendar-next").addEventListener("click", step(1));
  document.getElementById("calendar-today").addEventListener("click", () => {
    cal.day = startOfDay(new Date());
    load();
  });
  document.getElementById("check-availability").addEventListener("click", availability);
  document.getElementById("meeting-form").addEventListener("submit", createMeeting);
  document.getElementById("cancel-event").addEventListener("click", cancelEvent);
  document.getElementById("stop-editing").addEventListener("click", stopEditing);
  // Disabled until this script runs: without it, the form would send nothing useful.
  document.getElementById("create-meeting").disabled = false;
  rooms();
  bookings();
  load();
});
