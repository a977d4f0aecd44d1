// The cloud's image registry: Debian's `docker-registry`, run by Berth for a cloud of
// `local` hosts on the cloud's bridge (DESIGN.md, "Registry"), so an image made on one host
// (a build, or an install committed to the cache) is pushed once and pulled by the others.
//
// One registry per data directory: config, storage, pidfile and log under `dir`, listening
// on `addr` (the bridge's gateway and a port). The local hosts' daemons are started with
// --insecure-registry=ADDR (plain HTTP on the cloud's private bridge, which only the
// cloud's hosts and this machine reach).
#pragma once

#include <string>

#include "eventlog/status.h"

namespace berth::hosts {

struct RegistryOptions {
  std::string dir;   // absolute: <data-dir>/hosts/registry
  std::string addr;  // "10.213.7.1:5213"
};

// Answers GET /v2/ within `timeout_ms`: the registry is up.
bool RegistryAnswers(const std::string& addr, int64_t timeout_ms = 2000);

// Supervision: the registry runs and answers, or it is started (again): a registry found
// dead (killed, the machine restarted) is restarted on the storage it had. Waits at most
// 10 s for it to answer. kUnavailable with the tail of its log when it does not; kNotFound
// when docker-registry is not installed (scripts/setup.sh installs it).
Status EnsureRegistry(const RegistryOptions& o);

// Stops it (SIGTERM, then SIGKILL after 5 s) and removes `dir`. Idempotent.
Status RemoveRegistry(const RegistryOptions& o);

}  // namespace berth::hosts
