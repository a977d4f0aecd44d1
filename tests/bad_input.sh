#!/usr/bin/env bash
# Bad input gets one clear line on stderr and a non-zero exit, and loses nothing:
# unknown type / id, malformed input, a data directory held by another process, a foreign or
# corrupted database, and a full disk during append (the workflow pauses, then finishes).
BERTH=${1:?usage: bad_input.sh path/to/berth}
source "$(dirname "$0")/lib.sh"
work=$(mktemp -d /tmp/berth-bad-XXXXXX)
# Under set -e a failing last command of an && list ends the trap early (a kill of a process
# already gone used to skip the umount and leave the tmpfs mounted), so: plain ifs.
cleanup() {
  if [ -n "${bg:-}" ]; then kill -9 "$bg" 2>/dev/null || true; wait "$bg" 2>/dev/null || true; fi
  if mountpoint -q "$work/small"; then umount "$work/small" 2>/dev/null || umount -l "$work/small" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
passed=0

# expect_error NAME PATTERN CMD...: CMD exits non-zero with one stderr line matching PATTERN.
expect_error() {
  local name=$1 pattern=$2; shift 2
  set +e; "$@" >"$work/out" 2>"$work/err"; local rc=$?; set -e
  [ $rc -ne 0 ] || fail "$name: exit 0, want non-zero"
  [ "$(wc -l <"$work/err")" -eq 1 ] || fail "$name: stderr is not one line: $(cat "$work/err")"
  grep -q "$pattern" "$work/err" || fail "$name: stderr '$(cat "$work/err")' lacks '$pattern'"
  passed=$((passed + 1))
}

D="$work/d"
"$BERTH" --data-dir "$D" submit synthetic --input '{"steps": 2}' --id ok >/dev/null
expect_error "unknown type" "unknown workflow type 'nope'" "$BERTH" --data-dir "$D" submit nope
expect_error "malformed input" "not valid JSON" "$BERTH" --data-dir "$D" submit synthetic --input '{steps:'
expect_error "input file missing" "cannot read input file" "$BERTH" --data-dir "$D" submit synthetic --input @/nonexistent
expect_error "bad input value" "steps must be" "$BERTH" --data-dir "$D" submit synthetic --input '{"steps": -1}'
expect_error "duplicate id" "already used" "$BERTH" --data-dir "$D" submit synthetic --input '{"steps": 1}' --id ok
expect_error "unknown id history" "no workflow 'ghost'" "$BERTH" --data-dir "$D" history ghost
expect_error "unknown id cancel" "no workflow 'ghost'" "$BERTH" --data-dir "$D" cancel ghost
expect_error "bad fault spec" "BERTH_FAULT" env BERTH_FAULT=bogus "$BERTH" --data-dir "$D" workflows
expect_error "no data dir" "no Berth data" "$BERTH" --data-dir "$work/empty" workflows

# A second process on the same data directory.
"$BERTH" --data-dir "$D" submit synthetic --detach --id slow --input '{"steps": 3, "sleep_ms": 2000}' >/dev/null
"$BERTH" --data-dir "$D" resume >/dev/null 2>&1 & bg=$!
sleep 0.5
expect_error "held by another process" "in use by another berth process" "$BERTH" --data-dir "$D" workflows
kill -9 $bg; wait $bg 2>/dev/null || true; bg=
"$BERTH" --data-dir "$D" resume >/dev/null   # nothing lost: it finishes after the kill
assert_all_status "$D" completed

# Foreign and corrupted databases.
mkdir -p "$work/foreign/log" && echo hello >"$work/foreign/log/notes.txt"
expect_error "foreign directory" "holds no Berth log" "$BERTH" --data-dir "$work/foreign" workflows
cp -r "$D" "$work/corrupt"
echo "garbage" >"$work/corrupt/log/CURRENT"
expect_error "corrupted database" "log" "$BERTH" --data-dir "$work/corrupt" workflows

# A full disk during appends: the workflow pauses and finishes once space returns.
if [ "$(id -u)" -ne 0 ]; then fail "the full-disk check needs root (to mount a small tmpfs)"; fi
mkdir -p "$work/small"
mount -t tmpfs -o size=48m tmpfs "$work/small"
S="$work/small/d"
"$BERTH" --data-dir "$S" submit synthetic --detach --id fill --input '{"steps": 150, "sleep_ms": 20}' >/dev/null
"$BERTH" --data-dir "$S" resume >"$work/resume.out" 2>"$work/resume.err" & bg=$!
sleep 0.3
dd if=/dev/zero of="$work/small/filler" bs=1M count=100 2>/dev/null || true   # fills it
sleep 1.5
kill -0 $bg 2>/dev/null || fail "full disk: resume exited while the disk was full: $(cat "$work/resume.err")"
rm -f "$work/small/filler"
wait $bg || fail "full disk: resume failed after space returned: $(cat "$work/resume.err")"
bg=
grep -q "no space" "$work/resume.err" || fail "full disk: no 'no space' warning was printed"
assert_all_status "$S" completed
assert_effects_once "$S" 150
"$BERTH" --data-dir "$S" replay --verify >/dev/null || fail "full disk: verify"
passed=$((passed + 1))
echo "bad input: $passed checks"
echo "$passed passed, 0 failed"
