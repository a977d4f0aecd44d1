#!/usr/bin/env bash
# Bad input gets one clear line on stderr and a non-zero exit, and loses nothing:
# unknown type / id, malformed input, a data directory held by another process, a foreign or
# corrupted database (a damaged WAL is named), a data directory that is private to its user,
# one this user may not write or on a read-only mount (permission denied, exit 2, never
# "busy"), and a full disk during append (the workflow pauses, then finishes).
BERTH=${1:?usage: bad_input.sh path/to/berth}
source "$(dirname "$0")/lib.sh"
work=$(mktemp -d /tmp/berth-bad-XXXXXX)
# For the checks run as user nobody: $work is 0700, so they get a directory they can enter.
pub=$(mktemp -d /tmp/berth-bad-pub-XXXXXX) && chmod 755 "$pub"
# Under set -e a failing last command of an && list ends the trap early (a kill of a process
# already gone used to skip the umount and leave the tmpfs mounted), so: plain ifs.
cleanup() {
  if [ -n "${bg:-}" ]; then kill -9 "$bg" 2>/dev/null || true; wait "$bg" 2>/dev/null || true; fi
  for m in "$work/small" "$work/rofs" "$work/remount"; do
    if mountpoint -q "$m"; then umount "$m" 2>/dev/null || umount -l "$m" || true; fi
  done
  rm -rf "$work" "$pub"
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

# expect_exit NAME RC PATTERN CMD...: like expect_error, and the exit code is RC; never "busy".
expect_exit() {
  local name=$1 want=$2 pattern=$3; shift 3
  set +e; "$@" >"$work/out" 2>"$work/err"; local rc=$?; set -e
  [ $rc -eq "$want" ] || fail "$name: exit $rc, want $want: $(cat "$work/err")"
  [ "$(wc -l <"$work/err")" -eq 1 ] || fail "$name: stderr is not one line: $(cat "$work/err")"
  grep -q "$pattern" "$work/err" || fail "$name: stderr '$(cat "$work/err")' lacks '$pattern'"
  if grep -qiE "busy|in use" "$work/err"; then fail "$name: reported as busy: $(cat "$work/err")"; fi
  passed=$((passed + 1))
}
as_nobody() { setpriv --reuid=nobody --regid=nogroup --clear-groups "$@"; }

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

# A damaged write-ahead log is refused, naming the file, instead of silently losing the
# events after the damage (issue 7, fix 4).
W="$work/wal"
# Killed mid-run (a clean close flushes the memtables and empties the WAL): the events are
# only in the WAL.
BERTH_FAULT=crash-after-append:30 "$BERTH" --data-dir "$W" submit synthetic --input '{"steps": 20}' --id w >/dev/null 2>&1 || true
wal=$(ls -S "$W"/log/*.log | head -1)
size=$(stat -c %s "$wal")
printf '\xff' | dd of="$wal" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
expect_exit "damaged WAL" 1 "write-ahead log $wal is damaged" "$BERTH" --data-dir "$W" workflows

if [ "$(id -u)" -ne 0 ]; then fail "the checks below need root (other users, tmpfs mounts)"; fi

# The data directory is private: the log holds every deploy's environment (issue 7, fix 3).
P="$pub/private"
"$BERTH" --data-dir "$P" submit synthetic --input '{"steps": 2}' --id p >/dev/null
[ "$(stat -c %a "$P")" = 700 ] || fail "data dir mode is $(stat -c %a "$P"), want 700"
[ "$(stat -c %a "$P/log")" = 700 ] || fail "log dir mode is $(stat -c %a "$P/log"), want 700"
open_files=$(find "$P" -perm /077 | head -3)
[ -z "$open_files" ] || fail "files open to other users: $open_files"
if as_nobody cat "$P/log/CURRENT" >/dev/null 2>&1; then fail "user nobody can read the log"; fi
passed=$((passed + 1))
# An older Berth's 0755 data directory is tightened.
chmod 755 "$P" "$P/log"
"$BERTH" --data-dir "$P" workflows >/dev/null
[ "$(stat -c %a "$P")$(stat -c %a "$P/log")" = 700700 ] || fail "an existing data dir was not made private"
expect_exit "other user, private data dir" 2 "^berth: permission denied: " as_nobody "$BERTH" --data-dir "$P" workflows

# A directory this user may not write, or a read-only mount: permission denied, exit 2,
# never "busy" (issue 7, fix 2). Root bypasses permissions, so these run as nobody.
mkdir "$pub/r500" && chown nobody:nogroup "$pub/r500" && chmod 500 "$pub/r500"
expect_exit "dir 0500, new log" 2 "^berth: permission denied: creating directory $pub/r500/log" \
  as_nobody "$BERTH" --data-dir "$pub/r500" submit synthetic --input '{"steps": 1}'
"$BERTH" --data-dir "$pub/n500" submit synthetic --input '{"steps": 1}' --id n >/dev/null
chown -R nobody:nogroup "$pub/n500" && chmod 500 "$pub/n500" "$pub/n500/log"
expect_exit "dir 0500, existing log" 2 "^berth: permission denied: .*Permission denied" \
  as_nobody "$BERTH" --data-dir "$pub/n500" workflows
# RocksDB says "while open a file for lock: .../LOCK: Permission denied" here, which the old
# code took for "in use by another berth process".
"$BERTH" --data-dir "$pub/readable" submit synthetic --input '{"steps": 1}' --id r >/dev/null
chmod -R go+rX "$pub/readable"
expect_exit "other user's log" 2 "^berth: permission denied: opening the lock file" \
  as_nobody "$BERTH" --data-dir "$pub/readable" workflows
mkdir -p "$work/rofs" && mount -t tmpfs -o ro,size=1m tmpfs "$work/rofs"
expect_exit "read-only mount, new log" 2 "^berth: permission denied: .*Read-only file system" \
  "$BERTH" --data-dir "$work/rofs/d" submit synthetic --input '{"steps": 1}'
umount "$work/rofs"
mkdir -p "$work/remount" && mount -t tmpfs -o size=16m tmpfs "$work/remount"
"$BERTH" --data-dir "$work/remount/d" submit synthetic --input '{"steps": 1}' --id m >/dev/null
mount -o remount,ro "$work/remount"
expect_exit "read-only mount, existing log" 2 "^berth: permission denied: .*Read-only file system" \
  "$BERTH" --data-dir "$work/remount/d" workflows
umount "$work/remount"

# A full disk during appends: the workflow pauses and finishes once space returns.
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
