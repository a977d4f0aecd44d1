# Shared helpers for Berth's shell tests. Source it; $BERTH must name the berth binary.
set -euo pipefail

fail() { echo "FAIL: $*" >&2; exit 1; }

# Prints the content of every synthetic effect file, one per line, sorted by name.
effect_counts() { local d=$1; [ -d "$d/synthetic" ] || return 0; for f in "$d"/synthetic/*; do [ -e "$f" ] && cat "$f" && echo; done; }

# Asserts every workflow in data dir $1 has status $2 (json output parsed with python3).
assert_all_status() {
  local dir=$1 want=$2
  "$BERTH" --data-dir "$dir" -o json workflows | python3 -c '
import json, sys
want = sys.argv[1]
wfs = json.load(sys.stdin)
bad = [w for w in wfs if w["status"] != want]
if not wfs or bad:
    print("workflows not %s: %s" % (want, bad[:3] or "none listed"), file=sys.stderr); sys.exit(1)
' "$want"
}

# Asserts that data dir $1 holds exactly $2 effect files and each says it ran once.
assert_effects_once() {
  local dir=$1 n=$2 got
  got=$(ls "$dir/synthetic" 2>/dev/null | grep -vc '\.tmp$' || true)
  [ "$got" = "$n" ] || fail "$dir: $got effect files, want $n"
  local dup
  dup=$(effect_counts "$dir" | grep -vx 1 | head -3 || true)
  [ -z "$dup" ] || fail "$dir: a side effect ran more than once (counts: $dup)"
}

# Starts `berth serve [ARGS...]` on data directory $1 in the background, its stderr appended
# to $2, sets `pid` to its pid, and waits until it answers on $1/berth.sock (fails after 10 s).
start_berth_server() {
  local dir=$1 log=$2
  shift 2
  "$BERTH" --data-dir "$dir" serve "$@" 2>>"$log" &
  pid=$!
  for _ in $(seq 1 100); do
    curl -s --unix-socket "$dir/berth.sock" http://berth/v1/health >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  cat "$log" >&2
  fail "berth serve did not answer on $dir/berth.sock"
}

# Removes (--force) every host the log of data directory $1 knows: what a failed run of a
# test over `local` hosts left behind. Never fails.
remove_all_hosts() {
  local h
  for h in $(timeout 60 "$BERTH" --data-dir "$1" -o json hosts 2>/dev/null | python3 -c 'import json,sys; print(" ".join(r["name"] for r in json.load(sys.stdin)))' 2>/dev/null); do
    timeout 60 "$BERTH" --data-dir "$1" host remove --force "$h" >/dev/null 2>&1 || true
  done
}
