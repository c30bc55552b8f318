#!/usr/bin/env bash
# CalDAV/CardDAV benchmark: carepost against Radicale (Debian's radicale package, a private
# instance on 127.0.0.1 with a filesystem store), driven by the same client
# (bench/dav_load.py) in the same run, each with a calendar of EVENTS events:
#   1. sync of the calendar: initial (sync-collection, then calendar-multiget in 500s, as
#      vdirsyncer and DAVx5 do) and incremental (10 changed events, then the sync that finds
#      them);
#   2. calendar-query for a month (with calendar-data), and calendar-multiget of 500 events;
#   3. addressbook-query "smi" over a directory of PEOPLE (carepost's read-only directory book
#      of the staff; for Radicale an address book holding as many vCards);
#   4. free/busy of 20 people over a month: carepost's scheduling outbox answers all 20 in one
#      POST; Radicale has no outbox and Debian's (3.1) no free-busy-query, so the client reads
#      each person's events of the month with a calendar-query (what a client must do there)
#      and counts one busy period per event. Both times are the median of the rounds (warm:
#      carepost keeps the busy times of events without rules between asks, Radicale its
#      parsed items); the first round is printed too, as dav_freebusy_20_first.
# Both answer the same questions: the counts printed beside each time must agree.
#
#   bench/dav.sh                       # EVENTS=10000 PEOPLE=20000
#   EVENTS=5000 PEOPLE=1000 bench/dav.sh   # what the README reports
#   PEERS=0 bench/dav.sh               # carepost only
#
# Ends with one `ratio NAME VALUE` line per figure: Radicale's time over carepost's (above 1
# favours carepost). Needs root to install radicale and bc when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${EVENTS:-10000}; PEOPLE=${PEOPLE:-20000}; PEERS=${PEERS:-1}; BASE=${BASE:-33000}
PASS='correct horse battery staple 9'
WORK=$(mktemp -d /tmp/carepost-dav-bench.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

need=()
command -v bc >/dev/null || need+=(bc)
if [ "$PEERS" = 1 ]; then
  command -v radicale >/dev/null || need+=(radicale)
fi
. bench/lib.sh
install_missing "${need[@]}"
build_carepost
load() { python3 bench/dav_load.py "$@"; }
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

# --- carepost -------------------------------------------------------------------------------
DATA=$WORK/carepost
"$BIN" serve --dev --data "$DATA" --port-base "$BASE" > "$WORK/carepost.log" 2>&1 &
CP=$!; PIDS+=("$CP")
for _ in $(seq 1 200); do grep -q "Ctrl-C" "$WORK/carepost.log" && break; sleep 0.1; done
CURL="https://127.0.0.1:$((BASE + 443))"
# The directory: PEOPLE members of staff (one in a hundred a Smith), and 20 with calendars.
"$BIN" --data "$DATA" import <(python3 - "$PEOPLE" <<'PY'
import sys
print("employee_id,first,middle,last,preferred,category,department,supervisor_employee_id,status")
print("B0,Bench,,Organizer,,support,Bench,,")
for i in range(int(sys.argv[1])):
    last = "Smith" if i % 100 == 0 else f"Name{i % 997}"
    print(f"P{i},Person{i},,{last},,support,Bench,,")
PY
) >/dev/null
ME=bench.organizer@kaiser.org
printf '%s' "$PASS" | "$BIN" --data "$DATA" account set-password "$ME" --password-stdin >/dev/null
# Twenty colleagues, each with a week of meetings in March 2027 (imported, not scheduled).
ATTENDEES=()
"$BIN" --data "$DATA" --json account list --query person1 --limit 40 > "$WORK/people.json"
mapfile -t ATTENDEES < <(python3 -c "
import json,sys
rows=json.load(open(sys.argv[1]))
rows=rows if isinstance(rows,list) else rows.get('accounts',[])
print('\n'.join(r['address'] for r in rows[:20]))" "$WORK/people.json")
for a in "${ATTENDEES[@]}"; do
  python3 - > "$WORK/week.ics" <<'PY'
print("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r")
for d in range(1, 29):
    for h in (9, 14):
        print(f"BEGIN:VEVENT\r\nUID:m{d}-{h}\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:202703{d:02d}T{h:02d}0000Z\r\n"
              f"DTEND:202703{d:02d}T{h + 1:02d}0000Z\r\nSUMMARY:Clinic\r\nEND:VEVENT\r")
print("END:VCALENDAR\r")
PY
  "$BIN" --data "$DATA" calendar import "$a" calendar "$WORK/week.ics" >/dev/null
done
CCAL="/dav/calendars/$ME/calendar/"
out=$(load fill "$CURL" "$ME" "$PASS" "$CCAL" "$EVENTS"); echo "carepost: $EVENTS events stored at $(field "$out" puts_per_s) PUTs/s"
CP_RUN=$(load run "$CURL" "$ME" "$PASS" "$CCAL"); echo "carepost: $CP_RUN"
CP_SEARCH=$(load search "$CURL" "$ME" "$PASS" "/dav/addressbooks/$ME/directory/" smi); echo "carepost: $CP_SEARCH"
CP_FB=$(load freebusy "$CURL" "$ME" "$PASS" outbox "/dav/calendars/$ME/outbox/" "${ATTENDEES[@]}"); echo "carepost: $CP_FB"

[ "$PEERS" = 1 ] || exit 0

# --- Radicale ------------------------------------------------------------------------------
RAD=$WORK/radicale; mkdir -p "$RAD/collections"
{ echo "bench:$PASS"; for i in $(seq 0 19); do echo "p$i:$PASS"; done; } > "$RAD/users"
cat > "$RAD/config" <<EOF
[server]
hosts = 127.0.0.1:$((BASE + 5232))
max_content_length = 100000000
[auth]
type = htpasswd
htpasswd_filename = $RAD/users
htpasswd_encryption = plain
[rights]
type = authenticated
[storage]
filesystem_folder = $RAD/collections
[logging]
level = warning
EOF
# Debian's own program (its python, not whichever python3 is first on PATH).
radicale --config "$RAD/config" > "$WORK/radicale.log" 2>&1 &
RP=$!; PIDS+=("$RP")
RURL="http://127.0.0.1:$((BASE + 5232))"
for _ in $(seq 1 100); do curl -s -o /dev/null "$RURL/" && break; sleep 0.1; done
mkcal() { curl -s -o /dev/null -u "$1:$PASS" -X MKCALENDAR "$RURL$2"; }
mkbook() {
  curl -s -o /dev/null -u "bench:$PASS" -X MKCOL -H 'Content-Type: application/xml' "$RURL$1" --data \
    "<d:mkcol xmlns:d='DAV:' xmlns:card='urn:ietf:params:xml:ns:carddav'><d:set><d:prop><d:resourcetype><d:collection/><card:addressbook/></d:resourcetype></d:prop></d:set></d:mkcol>"
}
RCAL="/bench/calendar/"; mkcal bench "$RCAL"
RPATHS=()
for i in $(seq 0 19); do
  mkcal "p$i" "/p$i/calendar/"
  # The week's 56 events, each its own object: Radicale splits a calendar PUT on the
  # collection (one object with 56 UIDs is refused).
  curl -s -o /dev/null -u "p$i:$PASS" -X PUT -H 'Content-Type: text/calendar' \
    --data-binary @"$WORK/week.ics" "$RURL/p$i/calendar/"
  RPATHS+=("/p$i/calendar/")
done
out=$(load fill "$RURL" bench "$PASS" "$RCAL" "$EVENTS"); echo "Radicale: $EVENTS events stored at $(field "$out" puts_per_s) PUTs/s"
RD_RUN=$(load run "$RURL" bench "$PASS" "$RCAL"); echo "Radicale: $RD_RUN"
mkbook "/bench/directory/"
load cards "$RURL" bench "$PASS" "/bench/directory/" "$PEOPLE" >/dev/null
RD_SEARCH=$(load search "$RURL" bench "$PASS" "/bench/directory/" smi); echo "Radicale: $RD_SEARCH"
RD_FB=$(load freebusy "$RURL" bench "$PASS" query "${RPATHS[@]}"); echo "Radicale: $RD_FB"

# --- the same answers, and the ratios ------------------------------------------------------------
for k in objects changed in_month multiget; do
  [ "$(field "$CP_RUN" $k)" = "$(field "$RD_RUN" $k)" ] || echo "DIFFERENT ANSWERS: $k $(field "$CP_RUN" $k) vs $(field "$RD_RUN" $k)"
done
[ "$(field "$CP_SEARCH" found)" = "$(field "$RD_SEARCH" found)" ] || echo "DIFFERENT ANSWERS: search $(field "$CP_SEARCH" found) vs $(field "$RD_SEARCH" found)"
[ "$(field "$CP_FB" periods)" = "$(field "$RD_FB" periods)" ] || echo "DIFFERENT ANSWERS: free/busy periods $(field "$CP_FB" periods) vs $(field "$RD_FB" periods)"
ratio() { echo "ratio $1 $(echo "scale=2; $2 / $3" | bc)"; }
ratio dav_initial_sync "$(field "$RD_RUN" initial_sync_s)" "$(field "$CP_RUN" initial_sync_s)"
ratio dav_incremental_sync "$(field "$RD_RUN" incremental_sync_s)" "$(field "$CP_RUN" incremental_sync_s)"
ratio dav_month_query "$(field "$RD_RUN" month_query_s)" "$(field "$CP_RUN" month_query_s)"
ratio dav_multiget_500 "$(field "$RD_RUN" multiget_500_s)" "$(field "$CP_RUN" multiget_500_s)"
ratio dav_directory_search "$(field "$RD_SEARCH" search_s)" "$(field "$CP_SEARCH" search_s)"
ratio dav_freebusy_20 "$(field "$RD_FB" freebusy_s)" "$(field "$CP_FB" freebusy_s)"
# The first of the rounds, before either server had anything of the question cached.
ratio dav_freebusy_20_first "$(field "$RD_FB" first_s)" "$(field "$CP_FB" first_s)"
