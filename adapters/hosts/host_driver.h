// A Docker host of the cloud, and the drivers that make one exist.
//
// A HostSpec is what the user (or the provisioning policy) says about a host: its name, the
// driver that owns it, where its engine listens, its labels and, optionally, the capacity
// placement should assume. HostFacts is what the host's engine says of itself.
//
// A HostDriver provisions, deprovisions and describes hosts of one kind. `static` (hosts
// that exist: the user lists their endpoints) is the first; `local` (a namespace and a
// private dockerd on this machine, the way a cloud makes a VM) and cloud drivers implement
// the same three calls. Every call may block on the network; none touches the event log.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "adapters/docker/docker_host.h"
#include "adapters/docker/engine_client.h"
#include "eventlog/status.h"

namespace berth::hosts {

struct HostSpec {
  std::string name;              // [a-z0-9][a-z0-9.-]{0,62}
  std::string driver = "static";
  std::string endpoint;          // DOCKER_HOST form: unix:///path, tcp://host:port
  // TLS client files (all three, tcp only): the engine is verified against `tls_ca` and
  // Berth shows `tls_cert`. Never downgraded to plain HTTP.
  std::string tls_ca, tls_cert, tls_key;
  std::map<std::string, std::string> labels;
  int64_t cpus = 0;    // 0: what the engine reports
  int64_t memory = 0;  // bytes; 0: what the engine reports
  int slot = 0;        // local: the host's place on the cloud's bridge (address .slot)
  std::string netns;   // local: its network namespace (set by Provision)
  // "HOST:PORT" of a registry this host's engine pushes to and pulls from (the local
  // driver's own; for a static host, one the user names and the engine trusts). Hosts that
  // name one registry share Berth-made images through it (docs/hosts.md, "Images").
  std::string registry;
};

struct HostFacts {
  std::string engine_version, engine_name;
  int64_t cpus = 0, memory = 0;
};

// kInvalidArgument naming the field: a bad name, an endpoint that does not parse, TLS files
// on a unix endpoint or only some of the three, a label key that is empty.
Status Validate(const HostSpec& spec);
bool ValidHostName(const std::string& name);

nlohmann::json ToJson(const HostSpec& spec);
Result<HostSpec> HostSpecFromJson(const nlohmann::json& j);
nlohmann::json ToJson(const HostFacts& facts);
HostFacts HostFactsFromJson(const nlohmann::json& j);

// The engine endpoint of a validated spec (TLS files applied).
Result<docker::Endpoint> EndpointOf(const HostSpec& spec);
// A client for the host's engine (does not connect).
Result<std::unique_ptr<docker::EngineClient>> ClientFor(const HostSpec& spec,
                                                        docker::EngineClientOptions options = {});

class HostDriver {
 public:
  virtual ~HostDriver() = default;
  virtual std::string name() const = 0;
  // Makes the host exist and answer; returns the spec with its endpoint. Idempotent by
  // spec.name: a host that exists already is found, not made twice.
  virtual Result<HostSpec> Provision(const HostSpec& spec) = 0;
  // Removes every trace of a host this driver provisioned. Idempotent.
  virtual Status Deprovision(const HostSpec& spec) = 0;
  // Asks the host's engine for its facts. kUnavailable: it does not answer (the message says
  // where it looked); kFailed: it answers but not as a Docker engine, or TLS was refused.
  virtual Result<HostFacts> Describe(const HostSpec& spec) = 0;
  // Removes what the driver's hosts share (the local driver's bridge) once its last host is
  // gone. Idempotent.
  virtual Status Teardown() { return Status::Ok(); }
};

// Makes the driver called `name`; kInvalidArgument listing the drivers there are.
using DriverFactory = std::function<Result<std::unique_ptr<HostDriver>>(const std::string& name)>;
// static only (the local driver needs LocalOptions: local/local_driver.h).
Result<std::unique_ptr<HostDriver>> MakeDriver(const std::string& name);

}  // namespace berth::hosts
