//! `calendar-query` as clients send it (issue 19, point 2): python's `caldav` library
//! searching by time with `expand`, by text and for open tasks, and raw REPORTs for the
//! rest of RFC 4791 section 9.7: nested component filters, `is-not-defined`, parameter
//! filters, negated and case-sensitive text matches, property time ranges, and the refusals
//! (an unknown collation, a filter on alarm times, a root that is not VCALENDAR).

use crate::auth::GOOD;
use crate::caldav::caldav_python;
use crate::smtp::server_with_staff;

const SCRIPT: &str = r#"
import base64, caldav, datetime, http.client, ssl, sys
url, port, user, password = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
utc = datetime.timezone.utc
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
def req(method, path, body=None, headers=None):
    c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx)
    h = dict(headers or {})
    h["Authorization"] = "Basic " + base64.b64encode((user + ":" + password).encode()).decode()
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    return r.status, r.read().decode("utf-8", "replace")
cal_path = "/dav/calendars/" + user + "/calendar/"
tasks_path = "/dav/calendars/" + user + "/tasks/"
head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n"
weekly = (head + "BEGIN:VEVENT\r\nUID:huddle\r\nDTSTAMP:20261101T000000Z\r\n"
    "DTSTART;TZID=Europe/Berlin:20261207T090000\r\nDTEND;TZID=Europe/Berlin:20261207T093000\r\n"
    "RRULE:FREQ=WEEKLY;COUNT=4\r\nSUMMARY:Ward huddle\r\n"
    "ATTENDEE;PARTSTAT=ACCEPTED:mailto:" + user + "\r\n"
    "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT5M\r\nDESCRIPTION:soon\r\nEND:VALARM\r\nEND:VEVENT\r\n"
    "BEGIN:VEVENT\r\nUID:huddle\r\nDTSTAMP:20261101T000000Z\r\n"
    "RECURRENCE-ID;TZID=Europe/Berlin:20261214T090000\r\n"
    "DTSTART;TZID=Europe/Berlin:20261214T110000\r\nDTEND;TZID=Europe/Berlin:20261214T113000\r\n"
    "SUMMARY:Ward huddle (late)\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
single = (head + "BEGIN:VEVENT\r\nUID:audit\r\nDTSTAMP:20261120T000000Z\r\n"
    "DTSTART:20261215T130000Z\r\nDTEND:20261215T140000Z\r\nSUMMARY:Hand hygiene audit\r\n"
    "ATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:" + user + "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
def todo(uid, summary, done):
    extra = "STATUS:COMPLETED\r\nCOMPLETED:20261201T100000Z\r\n" if done else "STATUS:NEEDS-ACTION\r\n"
    return (head + "BEGIN:VTODO\r\nUID:" + uid + "\r\nDTSTAMP:20261101T000000Z\r\nSUMMARY:" + summary +
            "\r\n" + extra + "END:VTODO\r\nEND:VCALENDAR\r\n")
ical = {"Content-Type": "text/calendar"}
print("puts", [req("PUT", cal_path + n, b, ical)[0] for n, b in [("huddle.ics", weekly), ("audit.ics", single)]] +
      [req("PUT", tasks_path + n + ".ics", todo(n, s, d), ical)[0] for n, s, d in
       [("gloves", "Order gloves", False), ("rota", "Send rota", True)]])

client = caldav.DAVClient(url=url + "/.well-known/caldav", username=user, password=password,
                          ssl_verify_cert=False)
p = client.principal()
cal = p.calendar(cal_id="calendar")
tasks = p.calendar(cal_id="tasks")
found = cal.search(start=datetime.datetime(2026, 12, 7, tzinfo=utc),
                   end=datetime.datetime(2026, 12, 21, tzinfo=utc), event=True, expand=True)
print("lib-expand", sorted((str(e.icalendar_component["summary"]),
                            e.icalendar_component["dtstart"].dt.astimezone(utc).strftime("%d %H:%M"))
                           for e in found))
print("lib-text", sorted(str(e.icalendar_component["summary"]) for e in cal.search(summary="hygiene", event=True)))
print("lib-open-tasks", sorted(str(t.icalendar_component["summary"]) for t in tasks.search(todo=True, include_completed=False)))

def query(path, filt, data="<c:calendar-data/>"):
    body = ("<c:calendar-query xmlns:d='DAV:' xmlns:c='urn:ietf:params:xml:ns:caldav'><d:prop><d:getetag/>" +
            data + "</d:prop><c:filter>" + filt + "</c:filter></c:calendar-query>")
    return req("REPORT", path, body, {"Depth": "1", "Content-Type": "application/xml"})
def names(path, filt):
    s, body = query(path, filt)
    return s, sorted(h.split("</d:href>")[0].rsplit("/", 1)[1] for h in body.split("<d:href>")[1:])
vc = lambda inner: "<c:comp-filter name='VCALENDAR'>" + inner + "</c:comp-filter>"
ev = lambda inner: vc("<c:comp-filter name='VEVENT'>" + inner + "</c:comp-filter>")
expand = "<c:calendar-data><c:expand start='20261207T000000Z' end='20261221T000000Z'/></c:calendar-data>"
s, body = query(cal_path, ev("<c:time-range start='20261207T000000Z' end='20261221T000000Z'/>"), expand)
huddle = [r for r in body.split("<d:response>") if "huddle.ics" in r][0]
print("raw-expand", s, huddle.count("BEGIN:VEVENT"), "RRULE" in huddle, "VTIMEZONE" in huddle,
      "RECURRENCE-ID:20261214T080000Z" in huddle, "DTSTART:20261214T100000Z" in huddle,
      "DTSTART:20261207T080000Z" in huddle, huddle.count("BEGIN:VALARM"))
text = lambda t, extra="": ev("<c:prop-filter name='SUMMARY'><c:text-match" + extra + ">" + t + "</c:text-match></c:prop-filter>")
print("text", names(cal_path, text("HUDDLE")))
print("text-late", names(cal_path, text("late")))
print("text-negated", names(cal_path, text("huddle", " negate-condition='yes'")))
print("text-octet", names(cal_path, text("HUDDLE", " collation='i;octet'")))
print("accepted", names(cal_path, ev("<c:prop-filter name='ATTENDEE'><c:param-filter name='PARTSTAT'><c:text-match>ACCEPTED</c:text-match></c:param-filter></c:prop-filter>")))
print("with-alarm", names(cal_path, ev("<c:comp-filter name='VALARM'/>")))
print("no-alarm", names(cal_path, ev("<c:comp-filter name='VALARM'><c:is-not-defined/></c:comp-filter>")))
print("stamped", names(cal_path, ev("<c:prop-filter name='DTSTAMP'><c:time-range start='20261115T000000Z' end='20261125T000000Z'/></c:prop-filter>")))
print("open-tasks", names(tasks_path, vc("<c:comp-filter name='VTODO'><c:prop-filter name='COMPLETED'><c:is-not-defined/></c:prop-filter></c:comp-filter>")))
print("not-completed", names(tasks_path, vc("<c:comp-filter name='VTODO'><c:prop-filter name='STATUS'><c:text-match negate-condition='yes'>COMPLETED</c:text-match></c:prop-filter></c:comp-filter>")))
s, body = query(cal_path, text("x", " collation='i;klingon'"))
print("bad-collation", s, "supported-collation" in body)
s, body = query(cal_path, ev("<c:comp-filter name='VALARM'><c:time-range start='20261207T000000Z' end='20261208T000000Z'/></c:comp-filter>"))
print("alarm-range", s, "supported-filter" in body)
s, body = query(cal_path, "<c:comp-filter name='VEVENT'/>")
print("bad-root", s, "valid-filter" in body)
s, body = query(cal_path, ev(""), "<c:calendar-data><c:expand start='20261207T000000Z'/></c:calendar-data>")
print("open-expand", s)
s, body = query(cal_path, ev(""), "<c:calendar-data><c:expand start='20261207T000000Z' end='20301207T000000Z'/></c:calendar-data>")
print("long-expand", s)
params = "".join("<c:param-filter name='X-%d'/>" % i for i in range(250))
s, body = query(cal_path, ev("<c:prop-filter name='ATTENDEE'>" + params + "</c:prop-filter>"))
print("many-params", s, "supported-filter" in body)
s, body = query(cal_path, text("x" * 2000))
print("long-text", s, "supported-filter" in body)
# A big object repeated daily: its expansion would pass the answer's budget.
big = (head + "BEGIN:VEVENT\r\nUID:big\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:20270101T090000Z\r\n"
       "DTEND:20270101T100000Z\r\nRRULE:FREQ=DAILY;COUNT=200\r\nDESCRIPTION:" + "y" * 900000 +
       "\r\nSUMMARY:Big\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
print("big-put", req("PUT", cal_path + "big.ics", big, ical)[0])
s, body = query(cal_path, ev(""), "<c:calendar-data><c:expand start='20270101T000000Z' end='20271231T000000Z'/></c:calendar-data>")
print("big-expand", s, "number-of-matches-within-limits" in body)
"#;

#[tokio::test]
async fn calendar_queries_filter_expand_and_refuse_as_rfc_4791_says() {
    for db in carepost_testkit::backends().await {
        eprintln!("-- on {}", db.backend);
        let (s, ann, _) = server_with_staff(db).await;
        let port = s.running.https.unwrap().port();
        let url = format!("https://127.0.0.1:{port}");
        let out = caldav_python(SCRIPT, &[&url, &port.to_string(), &ann, GOOD]).await;
        for want in [
            "puts [201, 201, 201, 201]",
            // Two huddles in those two weeks (the second moved to 11:00 Berlin) and the audit.
            "lib-expand [('Hand hygiene audit', '15 13:00'), ('Ward huddle', '07 08:00'), \
             ('Ward huddle (late)', '14 10:00')]",
            "lib-text ['Hand hygiene audit']",
            "lib-open-tasks ['Order gloves']",
            // Each instance on its own, in UTC, named by the instance it is, with its alarm.
            "raw-expand 207 2 False False True True True 1",
            "text (207, ['huddle.ics'])",
            "text-late (207, ['huddle.ics'])",
            "text-negated (207, ['audit.ics'])",
            "text-octet (207, [])",
            "accepted (207, ['huddle.ics'])",
            "with-alarm (207, ['huddle.ics'])",
            "no-alarm (207, ['audit.ics', 'huddle.ics'])",
            "stamped (207, ['audit.ics'])",
            "open-tasks (207, ['gloves.ics'])",
            "not-completed (207, ['gloves.ics'])",
            "bad-collation 403 True",
            "alarm-range 403 True",
            "bad-root 403 True",
            "open-expand 400",
            "long-expand 400",
            "many-params 403 True",
            "long-text 403 True",
            "big-put 201",
            "big-expand 403 True",
        ] {
            assert!(out.lines().any(|l| l == want), "{want:?} not in:\n{out}");
        }
    }
}

/// Floating times and all-day dates (RFC 4791 sections 5.2.2 and 9.8): read as UTC in a
/// calendar without a time zone, in the calendar-timezone once one is set (by PROPPATCH or at
/// MKCALENDAR), and in a query's own `timezone` element when it has one.
const ZONES: &str = r#"
import base64, http.client, ssl, sys
port, user, password = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
def req(method, path, body=None, headers=None):
    c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx)
    h = dict(headers or {})
    h["Authorization"] = "Basic " + base64.b64encode((user + ":" + password).encode()).decode()
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    return r.status, r.read().decode("utf-8", "replace")
home = "/dav/calendars/" + user + "/"
cal = home + "calendar/"
head = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n"
def zone(tzid):
    return (head + "BEGIN:VTIMEZONE\r\nTZID:" + tzid + "\r\nBEGIN:STANDARD\r\nDTSTART:19701101T020000\r\n"
            "TZOFFSETFROM:-0400\r\nTZOFFSETTO:-0500\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\nEND:VCALENDAR\r\n")
# Half past midnight on Monday 7 December, wherever the calendar is; and all of Monday 14.
early = (head + "BEGIN:VEVENT\r\nUID:early\r\nDTSTAMP:20261101T000000Z\r\nDTSTART:20261207T003000\r\n"
         "DTEND:20261207T013000\r\nSUMMARY:Early handover\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
allday = (head + "BEGIN:VEVENT\r\nUID:allday\r\nDTSTAMP:20261101T000000Z\r\nDTSTART;VALUE=DATE:20261214\r\n"
          "DTEND;VALUE=DATE:20261215\r\nSUMMARY:Training day\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
ical = {"Content-Type": "text/calendar"}
xml = {"Depth": "1", "Content-Type": "application/xml"}
print("puts", [req("PUT", cal + n, b, ical)[0] for n, b in [("early.ics", early), ("allday.ics", allday)]])
# The week of 7 December in New York, as a client there asks for it (in UTC).
def week(path, tz=""):
    body = ("<c:calendar-query xmlns:d='DAV:' xmlns:c='urn:ietf:params:xml:ns:caldav'><d:prop><d:getetag/>"
            "<c:calendar-data><c:expand start='20261207T050000Z' end='20261214T050000Z'/></c:calendar-data>"
            "</d:prop><c:filter><c:comp-filter name='VCALENDAR'><c:comp-filter name='VEVENT'>"
            "<c:time-range start='20261207T050000Z' end='20261214T050000Z'/></c:comp-filter></c:comp-filter>"
            "</c:filter>" + tz + "</c:calendar-query>")
    s, out = req("REPORT", path, body, xml)
    found = sorted(h.split("</d:href>")[0].rsplit("/", 1)[1] for h in out.split("<d:href>")[1:])
    return s, found, "DTSTART:20261207T053000Z" in out
def busy(path):
    body = ("<c:free-busy-query xmlns:c='urn:ietf:params:xml:ns:caldav'>"
            "<c:time-range start='20261207T000000Z' end='20261208T000000Z'/></c:free-busy-query>")
    s, out = req("REPORT", path, body, xml)
    return s, "20261207T053000Z/20261207T063000Z" in out.replace("FREEBUSY:", "")
print("utc", week(cal))
def patch(text):
    body = ("<d:propertyupdate xmlns:d='DAV:' xmlns:c='urn:ietf:params:xml:ns:caldav'><d:set><d:prop>"
            "<c:calendar-timezone><![CDATA[" + text + "]]></c:calendar-timezone></d:prop></d:set></d:propertyupdate>")
    s, out = req("PROPPATCH", cal, body, {"Content-Type": "application/xml"})
    return s, "HTTP/1.1 200" in out, "HTTP/1.1 403" in out
print("set", patch(zone("America/New_York")))
s, out = req("PROPFIND", cal, "<d:propfind xmlns:d='DAV:' xmlns:c='urn:ietf:params:xml:ns:caldav'><d:prop>"
             "<c:calendar-timezone/></d:prop></d:propfind>", {"Depth": "0", "Content-Type": "application/xml"})
print("read", s, "TZID:America/New_York" in out)
print("new-york", week(cal))
print("busy", busy(cal))
berlin = "<c:timezone><![CDATA[" + zone("Europe/Berlin") + "]]></c:timezone>"
print("asked-in-berlin", week(cal, berlin))
print("not-a-zone", patch("hello"))
s, out = req("REPORT", cal, "<c:calendar-query xmlns:d='DAV:' xmlns:c='urn:ietf:params:xml:ns:caldav'>"
             "<d:prop><d:getetag/></d:prop><c:filter><c:comp-filter name='VCALENDAR'/></c:filter>"
             "<c:timezone>nonsense</c:timezone></c:calendar-query>", xml)
print("bad-query-zone", s, "valid-calendar-data" in out)
print("still", week(cal))
# A zone carepost does not know (an Outlook one of its own) is kept; floating times are then
# read as UTC.
print("unknown-zone", patch(zone("Mars/Olympus_Mons")), week(cal))
# Removed, the calendar reads floating times as UTC again.
print("unset", req("PROPPATCH", cal, "<d:propertyupdate xmlns:d='DAV:' xmlns:c='urn:ietf:params:xml:ns:caldav'>"
                   "<d:remove><d:prop><c:calendar-timezone/></d:prop></d:remove></d:propertyupdate>",
                   {"Content-Type": "application/xml"})[0], week(cal))
# A calendar made with its zone.
mk = ("<c:mkcalendar xmlns:d='DAV:' xmlns:c='urn:ietf:params:xml:ns:caldav'><d:set><d:prop>"
      "<d:displayname>Night shifts</d:displayname><c:calendar-timezone><![CDATA[" + zone("America/New_York") +
      "]]></c:calendar-timezone></d:prop></d:set></c:mkcalendar>")
print("mkcalendar", req("MKCALENDAR", home + "nights/", mk, {"Content-Type": "application/xml"})[0],
      req("PUT", home + "nights/early.ics", early, ical)[0], week(home + "nights/"))
"#;

#[tokio::test]
async fn floating_times_are_read_in_the_calendars_time_zone() {
    for db in carepost_testkit::backends().await {
        eprintln!("-- on {}", db.backend);
        let (s, ann, _) = server_with_staff(db).await;
        let port = s.running.https.unwrap().port().to_string();
        let out = caldav_python(ZONES, &[&port, &ann, GOOD]).await;
        for want in [
            "puts [201, 201]",
            // As UTC, half past midnight is before the New York week; the 14th is in it.
            "utc (207, ['allday.ics'], False)",
            "set (207, True, False)",
            "read 207 True",
            // In New York, it is at 05:30 UTC, and the 14th begins as the week ends.
            "new-york (207, ['early.ics'], True)",
            "busy (200, True)",
            // A query in Berlin time: the night before, outside the week; the 14th inside.
            "asked-in-berlin (207, ['allday.ics'], False)",
            "not-a-zone (207, False, True)",
            "bad-query-zone 403 True",
            "still (207, ['early.ics'], True)",
            "unknown-zone (207, True, False) (207, ['allday.ics'], False)",
            "unset 207 (207, ['allday.ics'], False)",
            "mkcalendar 201 201 (207, ['early.ics'], True)",
        ] {
            assert!(out.lines().any(|l| l == want), "{want:?} not in:\n{out}");
        }
    }
}
