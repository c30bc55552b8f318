"""CalDAV/CardDAV load for bench/dav.sh: the same requests against carepost and Radicale.

  fill     URL USER PASSWORD CALENDAR N           PUT N events (a year of them, one in ten
                                                  weekly for ten weeks), 4 clients
  cards    URL USER PASSWORD BOOK N               PUT N vCards (Radicale's stand-in for the
                                                  directory)
  run      URL USER PASSWORD CALENDAR             initial sync (sync-collection, then
                                                  calendar-multiget in 500s), incremental
                                                  sync after 10 changes, calendar-query for a
                                                  month, calendar-multiget of 500
  search   URL USER PASSWORD BOOK TEXT            addressbook-query text-match on FN
  freebusy URL USER PASSWORD MODE PATH|ADDRS...   free/busy of 20 people for a month: MODE
                                                  outbox (one POST, carepost) or query (a
                                                  calendar-query of the month per calendar
                                                  path, for a server without free/busy)

Each prints one JSON line. Times are wall-clock medians of several rounds, over one kept
HTTP/1.1 connection per client (TLS unverified: the servers are on this machine).
"""
import base64, datetime, http.client, json, re, ssl, statistics, sys, threading, time, urllib.parse

CTX = ssl.create_default_context()
CTX.check_hostname = False
CTX.verify_mode = ssl.CERT_NONE
ROUNDS = 7


class Dav:
    def __init__(self, url, user, password):
        u = urllib.parse.urlsplit(url)
        self.https = u.scheme == "https"
        self.host, self.port = u.hostname, u.port
        self.auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.conn = None

    def req(self, method, path, body=None, headers=None):
        for attempt in range(2):
            if self.conn is None:
                self.conn = (http.client.HTTPSConnection(self.host, self.port, context=CTX)
                             if self.https else http.client.HTTPConnection(self.host, self.port))
            h = {"Authorization": self.auth}
            h.update(headers or {})
            try:
                self.conn.request(method, path, body=body.encode() if isinstance(body, str) else body,
                                  headers=h)
                r = self.conn.getresponse()
                return r.status, r.read().decode("utf-8", "replace")
            except (http.client.HTTPException, OSError):
                self.conn = None
                if attempt:
                    raise


def event(uid, start, weekly=False):
    end = start + datetime.timedelta(hours=1)
    f = "%Y%m%dT%H%M%SZ"
    rule = "RRULE:FREQ=WEEKLY;COUNT=10\r\n" if weekly else ""
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\nBEGIN:VEVENT\r\n"
            f"UID:{uid}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:{start.strftime(f)}\r\n"
            f"DTEND:{end.strftime(f)}\r\n{rule}SUMMARY:Bench event {uid}\r\n"
            "LOCATION:Ward 4\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")


YEAR = datetime.datetime(2027, 1, 1, tzinfo=datetime.timezone.utc)


def fill(url, user, password, calendar, n):
    n = int(n)
    def work(k):
        d = Dav(url, user, password)
        for i in range(k, n, 4):
            start = YEAR + datetime.timedelta(hours=(i * 7) % (365 * 24))
            s, _ = d.req("PUT", f"{calendar}e{i}.ics", event(f"e{i}", start, i % 10 == 0),
                         {"Content-Type": "text/calendar"})
            if s not in (201, 204):
                raise SystemExit(f"PUT e{i}: {s}")
    t = time.time()
    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    print(json.dumps({"puts_per_s": round(n / (time.time() - t), 1)}))


def cards(url, user, password, book, n):
    n = int(n)
    def work(k):
        d = Dav(url, user, password)
        for i in range(k, n, 4):
            card = (f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:p{i}\r\nFN:Person{i} {surname(i)}\r\n"
                    f"N:{surname(i)};Person{i};;;\r\nEMAIL:person{i}@kaiser.org\r\nEND:VCARD\r\n")
            s, _ = d.req("PUT", f"{book}p{i}.vcf", card, {"Content-Type": "text/vcard"})
            if s not in (201, 204):
                raise SystemExit(f"PUT p{i}: {s}")
    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    print(json.dumps({"cards": n}))


def surname(i):
    # One in a hundred is a Smith: what "smi" finds.
    return "Smith" if i % 100 == 0 else f"Name{i % 997}"


def timed(f):
    median, out, _ = timed_first(f)
    return median, out


def timed_first(f):
    """The median of the rounds, the last answer, and the first round's time (before either
    server has anything of the question in its caches)."""
    times = []
    out = None
    for _ in range(ROUNDS):
        t = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out, times[0]


SYNC = ("<d:sync-collection xmlns:d='DAV:'><d:sync-token>{}</d:sync-token>"
        "<d:sync-level>1</d:sync-level><d:prop><d:getetag/></d:prop></d:sync-collection>")
MULTIGET = ("<c:calendar-multiget xmlns:d='DAV:' xmlns:c='urn:ietf:params:xml:ns:caldav'>"
            "<d:prop><d:getetag/><c:calendar-data/></d:prop>{}</c:calendar-multiget>")
QUERY = ("<c:calendar-query xmlns:d='DAV:' xmlns:c='urn:ietf:params:xml:ns:caldav'>"
         "<d:prop><d:getetag/><c:calendar-data/></d:prop><c:filter><c:comp-filter name='VCALENDAR'>"
         "<c:comp-filter name='VEVENT'><c:time-range start='20270301T000000Z' end='20270401T000000Z'/>"
         "</c:comp-filter></c:comp-filter></c:filter></c:calendar-query>")


# Each server names the DAV: namespace its own way (d:, D:, ns0:, or as the default).
HREF = re.compile(r"<(?:\w+:)?href>([^<]*)</(?:\w+:)?href>")
TOKEN = re.compile(r"<(?:\w+:)?sync-token>([^<]*)</(?:\w+:)?sync-token>")


def hrefs(body):
    return [h for h in HREF.findall(body) if h.endswith(".ics")]


def token_of(body):
    m = TOKEN.search(body)
    return m.group(1) if m else ""


def run(url, user, password, calendar):
    d = Dav(url, user, password)
    xml = {"Content-Type": "application/xml", "Depth": "1"}

    def initial():
        # A truncated answer (507 for the collection, RFC 6578 section 3.6) is followed from
        # its token, as clients do.
        names, token = [], ""
        for _ in range(1000):
            s, body = d.req("REPORT", calendar, SYNC.format(token), xml)
            names += hrefs(body)
            token = token_of(body)
            if " 507 " not in body and " 507<" not in body:
                break
        got = 0
        for i in range(0, len(names), 500):
            chunk = "".join(f"<d:href>{h}</d:href>" for h in names[i:i + 500])
            s, b = d.req("REPORT", calendar, MULTIGET.format(chunk), xml)
            got += b.count("BEGIN:VCALENDAR")
        return got, token

    t_initial, (objects, token) = timed(initial)
    # Ten changed events, then the sync that finds them.
    changed = []
    def incremental():
        nonlocal token
        # Each round moves the ten events again: a PUT of the same bytes is no change to
        # Radicale, which would then find nothing to sync.
        rounds = len(changed)
        for i in range(10):
            start = YEAR + datetime.timedelta(days=i, hours=3, minutes=rounds)
            d.req("PUT", f"{calendar}e{i + 1}.ics", event(f"e{i + 1}", start), {"Content-Type": "text/calendar"})
        s, body = d.req("REPORT", calendar, SYNC.format(token), xml)
        token = token_of(body) or token
        changed.append(len(hrefs(body)))
        return len(hrefs(body))
    t_incr, n_changed = timed(incremental)
    t_query, in_month = timed(lambda: d.req("REPORT", calendar, QUERY, xml)[1].count("BEGIN:VEVENT"))
    names = hrefs(d.req("REPORT", calendar, SYNC.format(""), xml)[1])[:500]
    chunk = "".join(f"<d:href>{h}</d:href>" for h in names)
    t_multi, multi = timed(lambda: d.req("REPORT", calendar, MULTIGET.format(chunk), xml)[1].count("BEGIN:VCALENDAR"))
    print(json.dumps({
        "initial_sync_s": round(t_initial, 4), "objects": objects,
        "incremental_sync_s": round(t_incr, 4), "changed": n_changed,
        "month_query_s": round(t_query, 4), "in_month": in_month,
        "multiget_500_s": round(t_multi, 4), "multiget": multi,
    }))


def search(url, user, password, book, text):
    d = Dav(url, user, password)
    q = ("<card:addressbook-query xmlns:d='DAV:' xmlns:card='urn:ietf:params:xml:ns:carddav'>"
         "<d:prop><d:getetag/><card:address-data/></d:prop><card:filter><card:prop-filter name='FN'>"
         f"<card:text-match collation='i;unicode-casemap' match-type='contains'>{text}</card:text-match>"
         "</card:prop-filter></card:filter></card:addressbook-query>")
    t, found = timed(lambda: d.req("REPORT", book, q, {"Content-Type": "application/xml", "Depth": "1"})[1].count("BEGIN:VCARD"))
    print(json.dumps({"search_s": round(t, 4), "found": found}))


def freebusy(url, user, password, mode, *targets):
    d = Dav(url, user, password)
    # Signed in before the rounds (each server keeps a verified password a while), so that
    # the first round times the question and not the password hash.
    d.req("PROPFIND", targets[0], None, {"Depth": "0"})
    if mode == "outbox":
        outbox, attendees = targets[0], targets[1:]
        body = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\nMETHOD:REQUEST\r\n"
                "BEGIN:VFREEBUSY\r\nUID:fb\r\nDTSTAMP:20260101T000000Z\r\n"
                "DTSTART:20270301T000000Z\r\nDTEND:20270401T000000Z\r\n"
                f"ORGANIZER:mailto:{user}\r\n"
                + "".join(f"ATTENDEE:mailto:{a}\r\n" for a in attendees)
                + "END:VFREEBUSY\r\nEND:VCALENDAR\r\n")
        # The busy periods: FREEBUSY lines (not BEGIN/END:VFREEBUSY).
        t, periods, first = timed_first(lambda: len(re.findall(r"^FREEBUSY[;:]", d.req(
            "POST", outbox, body, {"Content-Type": "text/calendar"})[1], re.M)))
    else:
        # Radicale as Debian ships it (3.1) answers no free-busy-query, so a client learns
        # when people are busy by reading each one's events of the month: one busy period
        # per event here (the events do not overlap).
        q = ("<c:calendar-query xmlns:d='DAV:' xmlns:c='urn:ietf:params:xml:ns:caldav'><d:prop>"
             "<d:getetag/><c:calendar-data/></d:prop><c:filter><c:comp-filter name='VCALENDAR'>"
             "<c:comp-filter name='VEVENT'><c:time-range start='20270301T000000Z' "
             "end='20270401T000000Z'/></c:comp-filter></c:comp-filter></c:filter></c:calendar-query>")
        def all_of_them():
            n = 0
            for path in targets:
                n += d.req("REPORT", path, q, {"Content-Type": "application/xml", "Depth": "1"})[1].count("BEGIN:VEVENT")
            return n
        t, periods, first = timed_first(all_of_them)
    print(json.dumps({"freebusy_s": round(t, 4), "periods": periods, "first_s": round(first, 4)}))


if __name__ == "__main__":
    {"fill": fill, "cards": cards, "run": run, "search": search, "freebusy": freebusy}[sys.argv[1]](*sys.argv[2:])
