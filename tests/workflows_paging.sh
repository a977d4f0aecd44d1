#!/usr/bin/env bash
# `berth workflows` pages: --limit N rows in id order, --after ID the next page, and the
# pages together are the whole list, each id once.
BERTH=${1:?usage: workflows_paging.sh path/to/berth}
source "$(dirname "$0")/lib.sh"
work=$(mktemp -d /tmp/berth-paging-XXXXXX)
trap 'rm -rf "$work"' EXIT
d="$work/data"
"$BERTH" --data-dir "$d" submit synthetic --input '{"steps":1,"noop":true,"children":24}' --id p >/dev/null \
  || fail "submit"
all=$("$BERTH" --data-dir "$d" -o json workflows --limit 0 | python3 -c 'import json,sys; print("\n".join(w["id"] for w in json.load(sys.stdin)))')
[ "$(echo "$all" | wc -l)" = 25 ] || fail "expected 25 workflows, got $(echo "$all" | wc -l)"
paged="" after="" pages=0
while :; do
  args=(--limit 7); [ -z "$after" ] || args+=(--after "$after")
  page=$("$BERTH" --data-dir "$d" -o json workflows "${args[@]}" 2>"$work/err" | python3 -c 'import json,sys; print("\n".join(w["id"] for w in json.load(sys.stdin)))')
  [ -n "$page" ] || break
  n=$(echo "$page" | wc -l)
  [ "$n" -le 7 ] || fail "a page of $n rows with --limit 7"
  paged+="$page"$'\n'
  after=$(echo "$page" | tail -1)
  pages=$((pages + 1))
  [ $pages -le 10 ] || fail "paging does not end"
  grep -q "next page" "$work/err" || break
done
[ "$pages" = 4 ] || fail "expected 4 pages of 7, got $pages"
[ "$(printf '%s' "$paged" | sort)" = "$(echo "$all" | sort)" ] || fail "the pages are not the whole list"
[ "$(printf '%s' "$paged" | sort -u | wc -l)" = 25 ] || fail "an id was listed twice"
echo "workflows paging: 25 workflows in 4 pages of at most 7, each once"
echo "1 passed, 0 failed"
