#!/usr/bin/env bash
# IMAP benchmark: carepost against Dovecot (Debian's dovecot-imapd, a private instance on
# 127.0.0.1), both over implicit TLS with the same certificate, driven by the same load
# generator (bench/imap_load.py) in the same run:
#   1. mixed workload: 10 clients looping LOGIN, SELECT, APPEND, FETCH, STORE, EXPUNGE, NOOP,
#      LOGOUT over 100 accounts for 30 s: commands and sign-ins per second, CPU per command;
#      then the same with each client signed in once (the mail engine without the password
#      hash). Both servers hash passwords with argon2id at carepost's default cost (19 MiB, 2
#      passes), so a sign-in costs the same work on each;
#   2. a 100,000-message INBOX: APPEND rate filling it, then SELECT and a full
#      UID FETCH 1:* (FLAGS ENVELOPE);
#   3. 5,000 connections in IDLE: the server's resident memory per connection (Dovecot with
#      its imap-hibernate process parking idle clients, its recommended setup for this).
# Dovecot stores mail in mdbox, its format for large mailboxes (Maildir took over 10 minutes
# to take 100,000 APPENDs on the development machine).
#
#   bench/imap.sh                      # everything
#   BIG=20000 IDLERS=1000 bench/imap.sh
#   PEERS=0 bench/imap.sh              # carepost only
#
# Needs root (Debian packages, Dovecot's mail user). Installs dovecot-imapd and bc when
# missing; the packaged service stays stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_MIXED=${SECONDS_MIXED:-30}; CLIENTS=${CLIENTS:-10}; USERS=${USERS:-100}
BIG=${BIG:-100000}; IDLERS=${IDLERS:-5000}; PEERS=${PEERS:-1}; BASE=${BASE:-32000}
PASS='correct horse battery staple 9'
WORK=$(mktemp -d /tmp/carepost-imap-bench.XXXXXX)
chmod 755 "$WORK"
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$WORK/dovecot/run/master.pid" ] && kill "$(cat "$WORK/dovecot/run/master.pid")" 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)"   # one descriptor per idle connection, on both ends

need=()
command -v bc >/dev/null || need+=(bc)
command -v argon2 >/dev/null || need+=(argon2)
if [ "$PEERS" = 1 ]; then
  command -v dovecot >/dev/null && [ -x /usr/lib/dovecot/imap ] || need+=(dovecot-core dovecot-imapd)
fi
. bench/lib.sh
install_missing "${need[@]}"
PATH=$PATH:/usr/sbin
build_carepost
load() { python3 bench/imap_load.py "$@"; }
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

# --- carepost -------------------------------------------------------------------------------
DATA=$WORK/carepost
start_carepost() { # how to serve; the first, --dev, start makes the data directory
  "$BIN" serve "$@" > "$WORK/carepost.log" 2>&1 &
  CP=$!; PIDS+=("$CP")
  for _ in $(seq 1 100); do grep -q "Ctrl-C" "$WORK/carepost.log" && break; sleep 0.1; done
}
start_carepost --dev --data "$DATA" --port-base "$BASE"
kill "$CP"; wait "$CP" 2>/dev/null || true
# Every idle connection comes from 127.0.0.1 here: serve the development config with higher
# IMAP limits (serve --dev would write it afresh).
cp "$DATA/carepost-dev.toml" "$WORK/carepost.toml"
printf '\n[imap]\nmax_connections = %d\nmax_connections_per_source = %d\nmax_sessions_per_account = %d\n' \
  $((IDLERS + 100)) $((IDLERS + 100)) "$IDLERS" >> "$WORK/carepost.toml"
start_carepost --config "$WORK/carepost.toml"
CPORT=$((BASE + 993))
"$BIN" --data "$DATA" import <(python3 - "$USERS" <<'PY'
import sys
print("employee_id,first,middle,last,preferred,category,department,supervisor_employee_id,status")
print("BIG,Big,,Mailbox,,support,Bench,,")
for i in range(int(sys.argv[1])):
    print(f"U{i},Load,,User{i},,support,Bench,,")
PY
) >/dev/null
: > "$WORK/carepost.users"
for i in $(seq 0 $((USERS - 1))); do
  printf '%s' "$PASS" | "$BIN" --data "$DATA" account set-password "load.user$i@kaiser.org" --password-stdin >/dev/null
  echo "load.user$i@kaiser.org $PASS" >> "$WORK/carepost.users"
done
printf '%s' "$PASS" | "$BIN" --data "$DATA" account set-password big.mailbox@kaiser.org --password-stdin >/dev/null

# --- Dovecot --------------------------------------------------------------------------------
if [ "$PEERS" = 1 ]; then
  D=$WORK/dovecot
  mkdir -p "$D/run" "$D/mail" && chown mail:mail "$D/mail"
  hash() { printf '%s' "$PASS" | argon2 "$(head -c 12 /dev/urandom | base64)" -id -t 2 -k 19456 -p 1 -e; }
  { echo "big:{ARGON2ID}$(hash)"; for i in $(seq 0 $((USERS - 1))); do echo "user$i:{ARGON2ID}$(hash)"; done; } > "$D/users"
  : > "$WORK/dovecot.users"
  for i in $(seq 0 $((USERS - 1))); do echo "user$i $PASS" >> "$WORK/dovecot.users"; done
  cat > "$D/dovecot.conf" <<CONF
instance_name = bench-imap-dovecot
base_dir = $D/run
state_dir = $D/run/state
log_path = $D/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <$DATA/tls/cert.pem
ssl_key = <$DATA/tls/key.pem
auth_mechanisms = plain login
first_valid_uid = 8
mail_location = mdbox:~/mdbox
mail_uid = mail
mail_gid = mail
imap_hibernate_timeout = 5s
passdb {
  driver = passwd-file
  args = username_format=%n $D/users
}
userdb {
  driver = static
  args = uid=mail gid=mail home=$D/mail/%n
}
namespace inbox {
  inbox = yes
  separator = /
}
protocol imap {
  mail_max_userip_connections = 100000
}
service imap-login {
  inet_listener imap {
    port = 0
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $((BASE + 1993))
  }
  process_min_avail = 2
  service_count = 0
}
service imap {
  process_limit = $((IDLERS + 200))
}
service imap-hibernate {
  unix_listener imap-hibernate {
    mode = 0666
  }
}
default_client_limit = $((IDLERS * 2 + 1000))
default_process_limit = $((IDLERS + 200))
default_vsz_limit = 1G
CONF
  dovecot -c "$D/dovecot.conf"
  for _ in $(seq 1 50); do [ -f "$D/run/master.pid" ] && break; sleep 0.1; done
  DV=$(cat "$D/run/master.pid")
  DPORT=$((BASE + 1993))
fi

# --- 1. mixed workload ------------------------------------------------------------------------
mixed() { # PID PORT USERS NAME [--reuse]
  local c0 c1 out
  c0=$(cpu "$1")
  out=$(load mixed --port "$2" --users "$3" --clients "$CLIENTS" --seconds "$SECONDS_MIXED" ${5:-})
  c1=$(cpu "$1")
  echo "$4 mixed: $out" >&2
  echo "$out" | python3 -c "import json,sys; d=json.load(sys.stdin); print(d['commands_per_s'], d['logins_per_s'], d['appends_per_s'], round(($c1-$c0)*1000/max(d['commands'],1), 2), d['errors'])"
}
read -r CP_CMD CP_LOGIN CP_APPEND CP_CPU CP_ERR < <(mixed "$CP" "$CPORT" "$WORK/carepost.users" carepost)
echo "carepost: $CP_CMD commands/s, $CP_LOGIN sign-ins/s, $CP_APPEND APPENDs/s, $CP_CPU ms CPU per command, $CP_ERR errors"
if [ "$PEERS" = 1 ]; then
  read -r DV_CMD DV_LOGIN DV_APPEND DV_CPU DV_ERR < <(mixed "$DV" "$DPORT" "$WORK/dovecot.users" Dovecot)
  echo "Dovecot:  $DV_CMD commands/s, $DV_LOGIN sign-ins/s, $DV_APPEND APPENDs/s, $DV_CPU ms CPU per command, $DV_ERR errors"
  echo "carepost / Dovecot: $(echo "scale=2; $CP_CMD / $DV_CMD" | bc)x the commands per second, $(echo "scale=2; $CP_CPU / $DV_CPU" | bc)x the CPU per command"
fi
echo "sessions kept (one sign-in per client):"
read -r CP_CMD CP_LOGIN CP_APPEND CP_CPU CP_ERR < <(mixed "$CP" "$CPORT" "$WORK/carepost.users" carepost --reuse)
echo "carepost: $CP_CMD commands/s, $CP_APPEND APPENDs/s, $CP_CPU ms CPU per command, $CP_ERR errors"
if [ "$PEERS" = 1 ]; then
  read -r DV_CMD DV_LOGIN DV_APPEND DV_CPU DV_ERR < <(mixed "$DV" "$DPORT" "$WORK/dovecot.users" Dovecot --reuse)
  echo "Dovecot:  $DV_CMD commands/s, $DV_APPEND APPENDs/s, $DV_CPU ms CPU per command, $DV_ERR errors"
  echo "carepost / Dovecot: $(echo "scale=2; $CP_CMD / $DV_CMD" | bc)x the commands per second, $(echo "scale=2; $CP_CPU / $DV_CPU" | bc)x the CPU per command"
fi

# --- 2. a 100,000-message mailbox ----------------------------------------------------------
echo
out=$(load fill --port "$CPORT" --user big.mailbox@kaiser.org --password "$PASS" --messages "$BIG" --clients 4)
CP_FILL=$(field "$out" appends_per_s)
out=$(load big --port "$CPORT" --user big.mailbox@kaiser.org --password "$PASS")
echo "carepost: filled at $CP_FILL APPENDs/s; $out"
CP_SEL=$(field "$out" select_s); CP_FETCH=$(field "$out" fetch_s)
if [ "$PEERS" = 1 ]; then
  out=$(load fill --port "$DPORT" --user big --password "$PASS" --messages "$BIG" --clients 4)
  DV_FILL=$(field "$out" appends_per_s)
  out=$(load big --port "$DPORT" --user big --password "$PASS")
  echo "Dovecot:  filled at $DV_FILL APPENDs/s; $out"
  DV_SEL=$(field "$out" select_s); DV_FETCH=$(field "$out" fetch_s)
  echo "carepost / Dovecot: $(echo "scale=2; $CP_FILL / $DV_FILL" | bc)x the APPEND rate; SELECT $(echo "scale=2; $CP_SEL / $DV_SEL" | bc)x and full FETCH $(echo "scale=2; $CP_FETCH / $DV_FETCH" | bc)x the time"
fi

# --- 3. connections in IDLE -----------------------------------------------------------------
echo
out=$(load idle --port "$CPORT" --users "$WORK/carepost.users" --connections "$IDLERS" --pid "$CP" --settle 10)
echo "carepost: $out"
CP_KIB=$(field "$out" kib_per_connection)
if [ "$PEERS" = 1 ]; then
  out=$(load idle --port "$DPORT" --users "$WORK/dovecot.users" --connections "$IDLERS" --pid "$DV" --settle 10)
  echo "Dovecot:  $out"
  DV_KIB=$(field "$out" kib_per_connection)
  echo "carepost / Dovecot: $(echo "scale=3; $CP_KIB / $DV_KIB" | bc)x the memory per idle connection"
fi
