// The `local` host driver: a host on this machine made the way a cloud makes a VM, so that
// many hosts can be tested on one machine (DESIGN.md, "More hosts on one machine").
//
// Provision(spec) with spec.endpoint = tcp://ADDR:2376 (the address the host workflow chose,
// on the cloud's bridge subnet) makes, each step found before it is made (idempotent, so a
// provision killed half-way finishes when run again):
//   - the cloud's CA and client certificate (options.root/ca), and a server certificate for
//     ADDR (options.root/NAME), all with openssl (EC P-256);
//   - the cloud's bridge (options.bridge, gateway .1 of the subnet) and a FORWARD accept rule
//     for it in the machine's iptables;
//   - network namespace berth-<cloud>-NAME (NetnsName) with loopback and a veth to the bridge;
//   - a private dockerd inside it (nsenter --net), its API on tcp://ADDR:2376 with
//     --tlsverify against the cloud's CA, its own data root (options.root/NAME/data), exec
//     root (/run/berth-<hash>: containerd's socket path must stay short), pidfile, docker0
//     and iptables;
//   - the cloud's registry (registry.h) on the bridge's gateway, which the daemon is told
//     to reach over plain HTTP (--insecure-registry);
//   - the base image (options.base_image), copied from the `seed` engine, or imported from
//     busybox-static once per cloud and loaded from that copy into every later host (one
//     image id across the cloud).
// It returns the spec with the client's TLS files. Deprovision stops the daemon (SIGTERM,
// then SIGKILL after 20 s), kills what is left in the namespace, deletes it, unmounts and
// removes both roots. Teardown (the last host is gone) removes the bridge, its iptables
// rule, the registry and its storage, the CA and the saved base image: no trace.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "adapters/docker/docker_client.h"
#include "adapters/hosts/host_driver.h"
#include "adapters/hosts/local/registry.h"

namespace berth::hosts {

struct LocalOptions {
  std::string root;    // absolute: where hosts keep their files (<data-dir>/hosts)
  std::string bridge;  // at most 15 characters
  std::string subnet;  // the /24's first three octets, "10.213.7"
  std::string registry;  // "GW:PORT": the cloud's registry; empty: none is run
  std::string base_image = "berth/busybox:test";
  // The engine the base image is copied from (the local engine); empty: none is copied.
  std::function<Result<docker::DockerClient*>()> seed;
};

// LocalOptions for a data directory: root <data-dir>/hosts, and a bridge name and subnet
// derived from its path, so two data directories on one machine do not share a bridge.
LocalOptions LocalOptionsFor(const std::string& data_dir);

std::unique_ptr<HostDriver> MakeLocalDriver(LocalOptions options);

// The namespace and addresses of a local host, for tests and the workflow.
std::string NetnsName(const LocalOptions& o, const std::string& host);
// "10.213.7.N" for slot N (10..250); the gateway is .1.
std::string LocalAddress(const LocalOptions& o, int slot);

// The cloud's registry: storage under root/registry, listening on `registry`.
RegistryOptions RegistryOptionsOf(const LocalOptions& o);

// Removes the registry, the bridge and its iptables rule (the last local host is gone).
// Idempotent.
Status RemoveBridge(const LocalOptions& o);

}  // namespace berth::hosts
