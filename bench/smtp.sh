#!/usr/bin/env bash
# SMTP delivery benchmark: carepost's MX with local delivery against Postfix -> LMTP -> Dovecot
# and Dovecot's LMTP alone, measured in the same run on the same machine with the same load
# generator (postfix's smtp-source: 10 sessions, 5,000 messages of 4 KiB by default), then
# the all-staff case: one message to the all-staff list of 10,000 accounts, time and bytes on disk.
#
#   bench/smtp.sh                 # everything
#   N=2000 bench/smtp.sh          # fewer messages
#   PEERS=0 bench/smtp.sh         # carepost only
#
# Needs root (Debian packages, Dovecot's mail user). Installs postfix, dovecot and bc when
# missing. Peers run as private instances under a temporary directory; the packaged services
# stay stopped. carepost's every 250 means the message is fsynced in the mailbox; Dovecot's
# Maildir delivery fsyncs as well (its default fsync_mode).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-5000}; S=${S:-10}; L=${L:-4096}; STAFF=${STAFF:-10000}; PEERS=${PEERS:-1}
BASE=${BASE:-31000}
WORK=$(mktemp -d /tmp/carepost-bench.XXXXXX)
chmod 755 "$WORK"   # the peers run as their own users
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$WORK/dovecot/run/master.pid" ] && kill "$(cat "$WORK/dovecot/run/master.pid")" 2>/dev/null || true
  [ -d "$WORK/postfix/etc" ] && postfix -c "$WORK/postfix/etc" stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

need=()
command -v smtp-source >/dev/null || need+=(postfix)
command -v bc >/dev/null || need+=(bc)
if [ "$PEERS" = 1 ]; then
  command -v dovecot >/dev/null || need+=(dovecot-core dovecot-lmtpd)
fi
. bench/lib.sh
if [ ${#need[@]} -gt 0 ]; then
  echo "postfix postfix/main_mailer_type select Local only" | debconf-set-selections
  echo "postfix postfix/mailname string localhost" | debconf-set-selections
fi
install_missing "${need[@]}"
PATH=$PATH:/usr/sbin
build_carepost

# --- carepost -------------------------------------------------------------------------------
DATA=$WORK/carepost
"$BIN" serve --dev --data "$DATA" --port-base "$BASE" > "$WORK/carepost.log" 2>&1 &
CP=$!; PIDS+=("$CP")
for _ in $(seq 1 100); do grep -q "Ctrl-C" "$WORK/carepost.log" && break; sleep 0.1; done
cpost() { "$BIN" --data "$DATA" "$@"; }
cpost department create Bench >/dev/null
cpost account create --first Smtp --last Bench --employee-id B1 --category support --department Bench >/dev/null
TARGET=smtp.bench@kaiser.org

c0=$(cpu "$CP"); t0=$(now)
smtp-source -s "$S" -m "$N" -l "$L" -f bench@peer.test -t "$TARGET" -M client.peer.test "127.0.0.1:$((BASE + 25))"
t1=$(now); c1=$(cpu "$CP")
stored=$(cpost --json mailbox usage "$TARGET" | sed -n 's/.*"messages": \([0-9]*\).*/\1/p')
CP_RATE=$(rate "$stored" "$t1 - $t0")
CP_CPU=$(echo "scale=2; ($c1 - $c0) * 1000 / $stored" | bc)
echo "carepost MX, local delivery, new connection per message: $stored/$N stored, $CP_RATE messages/s, $CP_CPU ms CPU per message"
c0=$(cpu "$CP"); t0=$(now)
smtp-source -d -s "$S" -m "$N" -l "$L" -f bench@peer.test -t "$TARGET" -M client.peer.test "127.0.0.1:$((BASE + 25))"
t1=$(now); c1=$(cpu "$CP")
stored2=$(cpost --json mailbox usage "$TARGET" | sed -n 's/.*"messages": \([0-9]*\).*/\1/p')
CPD_RATE=$(rate "$((stored2 - stored))" "$t1 - $t0")
echo "carepost MX, connections reused (-d): $((stored2 - stored))/$N stored, $CPD_RATE messages/s, $(echo "scale=2; ($c1 - $c0) * 1000 / ($stored2 - $stored)" | bc) ms CPU per message"

# --- peers ----------------------------------------------------------------------------------
if [ "$PEERS" = 1 ]; then
  D=$WORK/dovecot
  mkdir -p "$D/run" "$D/mail" && chown mail:mail "$D/mail"
  echo 'smtpbench:{PLAIN}testpass' > "$D/users"
  cat > "$D/dovecot.conf" <<CONF
instance_name = bench-dovecot
base_dir = $D/run
state_dir = $D/run/state
log_path = $D/dovecot.log
protocols = lmtp
listen = 127.0.0.1
ssl = no
first_valid_uid = 8
mail_location = maildir:~/Maildir
mail_uid = mail
mail_gid = mail
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%n $D/users
}
userdb {
  driver = static
  args = uid=mail gid=mail home=$D/mail/%n
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = $((BASE + 1024))
  }
}
CONF
  dovecot -c "$D/dovecot.conf"
  for _ in $(seq 1 50); do [ -f "$D/run/master.pid" ] && break; sleep 0.1; done
  DV=$(cat "$D/run/master.pid")
  MD=$D/mail/smtpbench/Maildir
  count() { find "$MD/new" "$MD/cur" -type f 2>/dev/null | wc -l; }

  c0=$(cpu "$DV"); t0=$(now)
  smtp-source -L -d -s "$S" -m "$N" -l "$L" -f bench@peer.test -t smtpbench@example.com -M client.peer.test "127.0.0.1:$((BASE + 1024))"
  t1=$(now); c1=$(cpu "$DV")
  DL_N=$(count); DL_RATE=$(rate "$DL_N" "$t1 - $t0")
  DL_CPU=$(echo "scale=2; ($c1 - $c0) * 1000 / $DL_N" | bc)
  echo "Dovecot LMTP alone: $DL_N/$N stored, $DL_RATE messages/s, $DL_CPU ms CPU per message"
  rm -rf "$D/mail/smtpbench"

  P=$WORK/postfix
  mkdir -p "$P/etc" "$P/spool" "$P/data" && chown postfix:postfix "$P/data"
  cp_etc() { cp /etc/postfix/master.cf "$P/etc/master.cf"; }
  cp_etc
  sed -i "s/^smtp      inet  n       -       y       -       -       smtpd$/127.0.0.1:$((BASE + 1025)) inet n  -       n       -       -       smtpd/" "$P/etc/master.cf"
  postconf -c "$P/etc" -F '*/*/chroot = n'
  cat > "$P/etc/main.cf" <<CONF
compatibility_level = 3.6
queue_directory = $P/spool
data_directory = $P/data
maillog_file = $P/postfix.log
maillog_file_prefixes = /var, /dev/stdout, $WORK
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.peer.test
mydomain = peer.test
myorigin = \$mydomain
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
biff = no
append_dot_mydomain = no
virtual_mailbox_domains = example.com
virtual_transport = lmtp:inet:127.0.0.1:$((BASE + 1024))
relayhost =
local_transport = error:local delivery disabled
alias_maps =
alias_database =
CONF
  postfix -c "$P/etc" start >/dev/null 2>&1
  for _ in $(seq 1 50); do [ -f "$P/spool/pid/master.pid" ] && break; sleep 0.1; done
  PF=$(tr -d ' ' < "$P/spool/pid/master.pid")
  c0=$(cpu "$PF"); d0=$(cpu "$DV"); t0=$(now)
  smtp-source -s "$S" -m "$N" -l "$L" -f bench@peer.test -t smtpbench@example.com -M client.peer.test "127.0.0.1:$((BASE + 1025))"
  for _ in $(seq 1 1200); do [ "$(count)" -ge "$N" ] && break; sleep 0.1; done
  t1=$(now); c1=$(cpu "$PF"); d1=$(cpu "$DV")
  PF_N=$(count); PF_RATE=$(rate "$PF_N" "$t1 - $t0")
  PF_CPU=$(echo "scale=2; (($c1 - $c0) + ($d1 - $d0)) * 1000 / $PF_N" | bc)
  echo "Postfix -> LMTP -> Dovecot: $PF_N/$N delivered, $PF_RATE messages/s, $PF_CPU ms CPU per message (both)"
  echo
  echo "carepost / Postfix+Dovecot: $(echo "scale=2; $CP_RATE / $PF_RATE" | bc)x the messages per second"
  echo "carepost (-d) / Dovecot LMTP (-d): $(echo "scale=2; $CPD_RATE / $DL_RATE" | bc)x the messages per second"
fi

# --- all staff: one message to the all-staff list of STAFF accounts ---------------------------
echo
"$BIN" --data "$DATA" import <(python3 - "$STAFF" <<'PY'
import sys
n = int(sys.argv[1])
print("employee_id,first,middle,last,preferred,category,department,supervisor_employee_id,status")
print("C1,Comms,,Team,,support,All Staff,,")
for i in range(n):
    print(f"S{i},Staff,,Member{i},,support,All Staff,,")
PY
) >/dev/null
PASS='correct horse battery staple 9'
"$BIN" --data "$DATA" account role grant comms.team@kaiser.org communications >/dev/null
printf '%s' "$PASS" | "$BIN" --data "$DATA" account set-password comms.team@kaiser.org --password-stdin >/dev/null
"$BIN" --data "$DATA" list create all-staff@kaiser.org --name "All staff" --sender communications >/dev/null
# Bytes of the store: the database (with its WAL) and the body files, whichever exist.
disk() { { du -sb "$DATA/blobs" "$DATA"/carepost.db* 2>/dev/null || true; } | awk '{ s += $1 } END { print s + 0 }'; }
# The first message also makes each member's standard mailboxes; the second is the steady state.
allstaff() { # LABEL
  local b0 t0 t1 b1 members
  b0=$(disk); t0=$(now)
  members=$(python3 - "$((BASE + 587))" "$PASS" <<'PY'
import smtplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
body = ("From: comms.team@kaiser.org\r\nTo: all-staff@kaiser.org\r\nSubject: New visiting hours\r\n\r\n"
        + "Visiting hours change on Monday.\r\n" * 100).encode()
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]))
s.starttls(context=ctx)
s.login("comms.team@kaiser.org", sys.argv[2])
s.mail("comms.team@kaiser.org")
code, text = s.rcpt("all-staff@kaiser.org")  # 250 2.1.5 List OK, N recipients
assert code == 250, text
s.data(body)
s.quit()
print(text.decode().split(", ")[1].split()[0])
PY
)
  t1=$(now); sync; b1=$(disk)
  echo "all-staff ($1): one 3.4 KB message to all-staff@kaiser.org ($members active accounts) in $(echo "scale=2; $t1 - $t0" | bc) s, $(( (b1 - b0) / 1024 )) KiB more on disk ($(( (b1 - b0) / members )) bytes per copy)"
}
allstaff first
allstaff again
