// carepost portal: the calendar page. The server answers in UTC (the JSON API's
// /me/calendar, /freebusy, /resources); this draws the day, week and agenda views in the
// reader's own time zone, answers invitations, and makes meetings with the free/busy of
// everyone invited, rooms included, side by side. Everything it shows is text in DOM nodes
// (never HTML from the server), and every button is a real button, so the keyboard works.
"use strict";

const cal = {
  view: "week",
  day: startOfDay(new Date()),
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

function eventItem(e) {
  const start = new Date(e.start * 1000);
  const end = new Date(e.end * 1000);
  const when = e.all_day ? "all day" : `${timeFmt.format(start)}–${timeFmt.format(end)}`;
  const li = el("li", { class: "event" + (e.cancelled ? " cancelled" : ""), "data-uid": e.uid });
  li.append(el("span", { class: "when" }, when), " ", el("strong", {}, e.summary || "(no title)"));
  if (e.location) li.append(" · ", e.location);
  const from = e.owner ? ` (${e.owner})` : "";
  li.append(el("span", { class: "hint" }, ` ${e.calendar_name}${from}`));
  if (e.cancelled) li.append(el("span", { class: "badge" }, "cancelled"));
  if (e.my_answer) {
    li.append(" ", el("span", { class: "badge answer" }, e.my_answer.replace("-", " ")));
    if (!e.cancelled && !e.owner) {
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
  for (let i = 0; i < days; i++) {
    const d0 = addDays(from, i);
    const d1 = addDays(from, i + 1);
    const todays = events.filter((e) => {
      const [s, t] = spanOf(e);
      return s < d1 && (t > d0 || (t === s && s >= d0));
    });
    if (cal.view === "agenda" && todays.length === 0) continue;
    const section = el("section", { class: "day", "aria-label": longDay.format(d0) });
    const isToday = d0.getTime() === startOfDay(new Date()).getTime();
    section.append(el("h3", { class: isToday ? "today" : "" }, dayFmt.format(d0)));
    const list = el("ul", { class: "events" });
    list.append(...todays.map(eventItem));
    if (todays.length === 0) list.append(el("li", { class: "hint" }, "nothing"));
    section.append(list);
    box.append(section);
  }
  if (box.children.length === 0) box.append(el("p", { class: "hint" }, "Nothing in these two weeks."));
  box.className = `view-${cal.view}`;
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

function proposed(f) {
  const { date, from, to } = f.elements;
  if (!date.value || !from.value || !to.value) return [null, null];
  return [new Date(`${date.value}T${from.value}`), new Date(`${date.value}T${to.value}`)];
}

async function createMeeting(ev) {
  ev.preventDefault();
  const f = ev.target;
  const [start, end] = proposed(f);
  if (!start) {
    say("Choose the day and the times.", true);
    return;
  }
  try {
    await request("POST", "/api/v1/me/calendar/events", {
      title: f.elements.title.value,
      start: Math.floor(start / 1000),
      end: Math.floor(end / 1000),
      location: f.elements.location.value,
      attendees: attendeesOf(f),
    });
    say(`“${f.elements.title.value}” is in your calendar; the people and rooms invited are told.`);
    cal.day = startOfDay(start);
    f.reset();
    document.getElementById("availability").replaceChildren();
    await load();
  } catch (err) {
    say(err.message, true);
  }
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
  // Disabled until this script runs: without it, the form would send nothing useful.
  document.getElementById("create-meeting").disabled = false;
  rooms();
  load();
});
