# Shared by the benchmark scripts (sourced): installing what is missing, the release build,
# CPU time of a process tree, the clock, a rate.

# Installs the Debian packages named (nothing when the list is empty).
install_missing() {
  [ $# -gt 0 ] || return 0
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# Builds the release binary into a cache outside the clone; sets BIN.
build_carepost() {
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/carepost/bench-target}"
  cargo build --release -q -p carepost-server
  BIN="$CARGO_TARGET_DIR/release/carepost"
}

# CPU seconds (user + system) used so far by a process and all its descendants, living or
# reaped (Dovecot and Postfix work in child processes).
cpu() {
  python3 - "$1" <<'PY'
import os, sys
root = int(sys.argv[1]); stats = {}
for p in os.listdir("/proc"):
    if p.isdigit():
        try:
            f = open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()
            stats[int(p)] = (int(f[1]), sum(int(x) for x in f[11:15]))
        except OSError:
            pass
tree, total, changed = {root}, 0, True
while changed:
    changed = False
    for pid, (ppid, _) in stats.items():
        if ppid in tree and pid not in tree:
            tree.add(pid); changed = True
print("%.2f" % (sum(stats[p][1] for p in tree if p in stats) / os.sysconf("SC_CLK_TCK")))
PY
}
now() { date +%s.%N; }
rate() { echo "scale=1; $1 / ($2)" | bc; }
