// Blueprint: a Compose file (plus Berth's `x-berth` extensions) parsed, validated and
// resolved into plain values.
//
// LoadBlueprint reads the file with yaml-cpp and reports *every* problem it finds, each with
// file:line:col, instead of stopping at the first. Errors make the load fail; warnings (an
// unknown key, an `x-berth` key Berth does not use yet) are returned alongside a good
// result. A Compose key that Berth does not support (e.g. `cap_add`, `secrets`) is an
// error naming the key, never silently ignored: a container without the capability it
// asked for would fail later in a way that is hard to trace.
//
// Everything that depends on the machine is resolved at load time, so a deploy workflow's
// input (ToJson of the result) is self-contained and replays identically: `${VAR}` and
// `${VAR:-default}` are interpolated from the process environment and the `.env` file (or
// --env-file), relative paths (build
// contexts, bind mounts) are made absolute against the file's directory, named volumes and
// networks get the app prefix, durations become milliseconds. (`x-berth.install` and
// `x-berth.customize` are not interpolated: they run inside the container, where `$VAR` is
// the container's variable.)
//
// The supported keys are listed in docs/blueprints.md.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "eventlog/status.h"

namespace berth::workflows {

struct Diagnostic {
  enum Severity { kError, kWarning } severity = kError;
  std::string file;
  int line = 0, col = 0;  // 1-based; 0 when the problem has no single place
  std::string message;
  // "shop.yaml:12:7: error: services.web.ports[0]: '80:80:80:80' is not a port mapping"
  std::string ToString() const;
};

struct BuildDef {
  std::string context;                  // absolute directory
  std::string dockerfile = "Dockerfile";  // relative to the context
  std::map<std::string, std::string> args;
  std::map<std::string, std::string> labels;  // `build.labels`, on the image
  // More of the engine's build parameters, by their API name (target, networkmode,
  // shmsize, extrahosts, cachefrom, isolation, platform, pull, nocache), as text.
  std::map<std::string, std::string> options;
  std::vector<std::string> tags;  // `build.tags`: more names for the built image
};

struct PortDef {
  std::string host_ip;    // "" every address
  int host_port = 0;      // 0: the engine chooses (Compose "80" short form)
  int host_port_end = 0;  // > host_port: the engine picks a free one of host_port..end
  int container_port = 0;
  std::string protocol = "tcp";
};

struct HealthDef {
  std::vector<std::string> test;  // engine form: {"CMD-SHELL", "..."} / {"CMD", ...} / {"NONE"}
  int64_t interval_ms = 0, timeout_ms = 0, start_period_ms = 0;  // 0: engine default
  int retries = 0;
};

struct ServiceNetwork {
  std::string name;  // the app-level network name as written in the file ("default", "back")
  std::vector<std::string> aliases;
  std::string ipv4_address;
};

struct VolumeMount {
  // Absolute host path (bind), "<app>_<name>" (named volume), or "" (anonymous: the engine
  // makes a volume for the container and removes it with the container).
  std::string source;
  std::string target;
  bool read_only = false;
  bool named = false;
  std::string options;  // the engine's other mount options, comma-separated ("z", "nocopy")
  bool anonymous() const { return source.empty(); }
};

struct ServiceDef {
  std::string name;
  int line = 0, col = 0;  // where the service's key is in the file
  std::string container_name;  // Compose `container_name` (replicas must be 1); "" <app>-<svc>-<n>
  std::string image;      // may be empty when `build` is set
  std::optional<BuildDef> build;
  std::optional<std::vector<std::string>> command;     // string form split like a shell would
  std::optional<std::vector<std::string>> entrypoint;  // (quotes honoured, no expansion)
  std::map<std::string, std::string> environment;
  std::vector<PortDef> ports;
  std::vector<std::string> depends_on;  // validated: exists, no cycles
  int replicas = 1;                     // deploy.replicas, 0..1000
  std::map<std::string, std::string> labels;
  std::optional<HealthDef> healthcheck;
  std::vector<ServiceNetwork> networks;  // empty means {"default"}
  std::vector<VolumeMount> volumes;
  std::string restart = "no";  // no | always | unless-stopped | on-failure[:N]
  std::optional<bool> init;
  std::string stop_signal;
  std::optional<int64_t> stop_grace_period_ms;  // Compose default (unset) is 10 s
  std::string user, working_dir, hostname;
  // x-berth
  std::vector<std::string> install;    // run once per image key, then committed
  std::vector<std::string> customize;  // run in every container after it starts
  std::string dns;                     // x-berth.dns (recorded; DNS registration comes later)
  std::string placement;               // x-berth.placement: a chain's JSON text ("" none)
  // deploy.resources.reservations.cpus: for placement only (Docker reserves no CPU; the
  // container's label berth.cpus carries it for the hosts' census). 0: none.
  double reserve_cpus = 0;
  std::vector<std::string> profiles;   // Compose `profiles`: only loaded when one is enabled
  // Fields of the engine's create body from Compose keys that map onto it as they stand
  // (cap_add -> HostConfig.CapAdd, tty -> Config.Tty, ...): field name -> its JSON text.
  std::map<std::string, std::string> engine_host, engine_config;
  // Compose `links` (SERVICE[:ALIAS]): the service starts after SERVICE, and ALIAS names
  // SERVICE on the networks both join (an alias of SERVICE there, wider than Docker's
  // per-container link).
  std::vector<std::string> links;  // "SERVICE:ALIAS"
  // Compose `volumes_from` while loading. Resolved at the end of the load into
  // engine_host["VolumesFrom"] (a service by its first container's name); not recorded.
  struct VolumesFrom {
    bool container = false;  // `name` is a container Berth did not make, not a service
    std::string name;
    std::string mode;  // "", "ro" or "rw"
  };
  std::vector<VolumesFrom> volumes_from;
  // Compose `configs` / `secrets` while loading. Resolved at the end of the load into
  // read-only bind mounts of their files (`volumes`); not recorded.
  struct FileRef {
    bool secret = false;
    std::string source, target;  // target made absolute (/<name>, /run/secrets/<name>)
    std::string path;            // where it was written, for messages
    int line = 0, col = 0;
  };
  std::vector<FileRef> file_refs;
  // Compose `network_mode` (host, none, bridge, service:X, container:NAME): the container
  // joins no app network; with service:X it shares the network stack of X's first container.
  std::string network_mode;
  // Services whose first container's namespaces this one joins (network_mode, ipc or pid
  // `service:X`): it starts after them and is made again whenever they are.
  std::vector<std::string> shares;
  std::string platform;     // Compose `platform` ("linux/amd64"): the create call's platform
  std::string pull_policy;  // Compose `pull_policy`; "" and "missing" alike (docs/blueprints.md)
};

struct NetworkDef {
  std::string name;         // as written ("default" is always present)
  std::string docker_name;  // "<app>_<name>", or its `name:` as written
  std::string subnet, gateway;  // from ipam.config[0]; "" lets the engine choose
  std::map<std::string, std::string> labels;
  bool external = false;  // made by someone else: joined, never created or removed
  std::map<std::string, std::string> driver_opts;  // the bridge driver's options, as written
  bool internal = false;    // no route out of the network
  bool attachable = false;  // (a swarm key; bridge networks take any container)
};

struct Blueprint {
  std::string file;  // absolute path it was loaded from
  std::string name;  // the app: -p, else top-level `name`, else the directory's name
  std::vector<ServiceDef> services;  // in file order
  std::vector<NetworkDef> networks;  // "default" first, then top-level `networks`
  std::vector<std::string> volumes;  // docker names of top-level `volumes` ("<app>_<name>",
                                     // or the `name:` of a named or external one)
  std::string placement;  // top-level x-berth.placement: a chain's JSON text ("" none)
  std::string cloud;      // top-level x-berth.cloud: {driver, max_hosts, labels} JSON ("" none)

  const ServiceDef* FindService(const std::string& name) const;
  // Services grouped by depends_on depth: level 0 depends on nothing, level k only on
  // services of levels < k. Names within a level in file order.
  std::vector<std::vector<std::string>> Levels() const;
};

// How to load: what `berth up` / `berth config` take besides the file.
struct LoadOptions {
  std::string project;  // -p: overrides the app name when not empty
  // --env-file, in order (a later file's value wins). None given: the `.env` next to the
  // Compose file, when there is one. Their variables feed interpolation below the process
  // environment, which wins, as in Compose. Read by LoadBlueprint only.
  std::vector<std::string> env_files;
  std::vector<std::string> profiles;  // --profile: services with `profiles` need one of them
  // The env files' variables (LoadBlueprint fills it; ParseBlueprint's callers may).
  std::map<std::string, std::string> file_env;
};

// Loads and validates `path`. `project` (from -p) overrides the app name when not empty.
// On any error returns kInvalidArgument whose message is every error's ToString() joined by
// newlines (first line: "<file>: N problems"); `diagnostics` (optional) receives errors and
// warnings alike (appended). A file that cannot be read is kNotFound when it does not exist,
// else kIOError, with the message "cannot read <path>: <reason>". Messages name the file as
// `path` was given; Blueprint::file is absolute.
Result<Blueprint> LoadBlueprint(const std::string& path, const std::string& project,
                                std::vector<Diagnostic>* diagnostics);
// The same from text; `file` names it in messages, relative paths resolve against `dir`
// (absolute), and Blueprint::file is `dir`/<file's last component>.
Result<Blueprint> ParseBlueprint(const std::string& text, const std::string& file,
                                 const std::string& dir, const std::string& project,
                                 std::vector<Diagnostic>* diagnostics);
// The same with every option; an env file that cannot be read or parsed is an error naming
// it (file:line).
Result<Blueprint> LoadBlueprint(const std::string& path, const LoadOptions& options,
                                std::vector<Diagnostic>* diagnostics);
Result<Blueprint> ParseBlueprint(const std::string& text, const std::string& file,
                                 const std::string& dir, const LoadOptions& options,
                                 std::vector<Diagnostic>* diagnostics);

// Lossless JSON form (the deploy workflow's input) and back. FromJson refuses malformed
// JSON with kInvalidArgument.
nlohmann::json ToJson(const Blueprint& b);
Result<Blueprint> BlueprintFromJson(const nlohmann::json& j);
nlohmann::json ToJson(const ServiceDef& s);

// 12 hex digits of the SHA-256 of the service's canonical JSON without `replicas`: equal
// hashes mean a container made for one definition fits the other.
std::string ServiceConfigHash(const ServiceDef& s);
// Every service's config hash as a deploy uses it: ServiceConfigHash, except that a service
// sharing another's namespaces (`shares`: network_mode, ipc or pid service:X) folds in X's,
// so it is made again whenever X is (a new X is a new network stack, IPC or PID namespace).
std::map<std::string, std::string> ServiceConfigHashes(const Blueprint& b);

// App names: [a-z0-9][a-z0-9_-]{0,62}. Compose's default from a directory name lowercases
// it and drops other characters.
bool ValidAppName(const std::string& name);
// A Compose size: "512m", "1gb", "100k", "1048576" -> bytes (powers of 1024; b, k, m, g with
// or without "b"); nullopt when it is not one.
std::optional<int64_t> ParseByteSize(const std::string& s);

}  // namespace berth::workflows
