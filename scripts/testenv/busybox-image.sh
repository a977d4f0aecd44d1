#!/usr/bin/env bash
# Builds the base image berth/busybox:test (or the tag given as $1) from Debian's
# busybox-static, for the daemon named by DOCKER_HOST. No registry is needed.
# Idempotent: does nothing when the image already exists.
# Usage: DOCKER_HOST=unix://DIR/docker.sock scripts/testenv/busybox-image.sh [TAG]
set -euo pipefail

TAG=${1:-berth/busybox:test}
BUSYBOX=${BUSYBOX:-/bin/busybox}

if docker image inspect "$TAG" >/dev/null 2>&1; then
  echo "busybox-image: $TAG already exists"
  exit 0
fi
if ! "$BUSYBOX" --list >/dev/null 2>&1; then
  echo "busybox-image: $BUSYBOX is not a busybox binary (install busybox-static)" >&2
  exit 1
fi

ROOT=$(mktemp -d /tmp/berth-busybox-XXXX)
trap 'rm -rf "$ROOT"' EXIT
mkdir -p "$ROOT"/{bin,sbin,usr/bin,usr/sbin,tmp,etc,var/www,root,home,proc,sys,dev,srv}
chmod 1777 "$ROOT/tmp"
cp "$BUSYBOX" "$ROOT/bin/busybox"
# `busybox --list` names busybox itself: linking it would replace the binary by a link.
for applet in $("$BUSYBOX" --list); do
  [ "$applet" = busybox ] && continue
  ln -sf busybox "$ROOT/bin/$applet"
done
echo 'root:x:0:0:root:/root:/bin/sh' >"$ROOT/etc/passwd"
echo 'nobody:x:65534:65534:nobody:/home:/bin/false' >>"$ROOT/etc/passwd"
echo 'root:x:0:' >"$ROOT/etc/group"
echo 'nogroup:x:65534:' >>"$ROOT/etc/group"

tar -C "$ROOT" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'CMD ["/bin/sh"]' - "$TAG" >/dev/null
echo "busybox-image: built $TAG"
