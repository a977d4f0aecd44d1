#!/usr/bin/env bash
# Berth's main job on the embedded default: installs what is needed, builds, then runs a
# durable workflow, kills the control plane mid-run with SIGKILL, resumes it, and shows its
# history, the workflow list and a full verification of the log.
# (Docker deploys of Compose files arrive with the Docker workflows; until then the main job
# is the synthetic workflow, as the core issue allows.)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/setup.sh"
bash "$root/scripts/build.sh"
berth="$root/build/tools/berth"
export BERTH_HOME=${BERTH_HOME:-$(mktemp -d /tmp/berth-demo-XXXXXX)}
echo "== data directory: $BERTH_HOME"
echo "== submit a 5-step workflow, killed (SIGKILL) right after its 3rd side effect, before that"
echo "   effect is recorded: on resume, reconcile finds it and adopts it instead of redoing it"
BERTH_FAULT=crash-after-effect:3 "$berth" submit synthetic --id demo --input '{"steps": 5, "sleep_ms": 100}' || echo "(killed, exit $?)"
echo "== berth resume"
"$berth" resume
echo "== berth history demo"
"$berth" history demo
echo "== berth workflows"
"$berth" workflows
echo "== berth replay --verify"
"$berth" replay --verify
echo "== each side effect ran exactly once:"
for f in "$BERTH_HOME"/synthetic/*; do printf '%s: %s\n' "$(basename "$f")" "$(cat "$f")"; done
