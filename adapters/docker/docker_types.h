// Value types exchanged with a Docker engine through DockerClient.
//
// Plain structs, no behaviour: what the caller asks for (…Spec) and what the engine reports
// (…Info). Field names follow the Compose file and the Engine API so a reader can map one to
// the other; durations carry their unit in the name.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <functional>
#include <string>
#include <vector>

namespace berth::docker {

using Labels = std::map<std::string, std::string>;

// labels[key], or "" when absent.
inline std::string LabelValue(const Labels& labels, const std::string& key) {
  auto it = labels.find(key);
  return it == labels.end() ? std::string() : it->second;
}

// What GET /version reports, plus the API version this client speaks to it.
struct EngineVersion {
  std::string version;         // engine release, e.g. "20.10.24+dfsg1"
  std::string api_version;     // highest API the engine supports, e.g. "1.41"
  std::string negotiated_api;  // min(api_version, 1.43): the /vX.Y prefix used
  std::string os;              // "linux"
  std::string arch;            // "amd64"
};

// What GET /info reports that placement needs: the engine's capacity and its name.
struct EngineInfo {
  std::string name;        // the daemon's host name
  int64_t cpus = 0;        // NCPU
  int64_t memory = 0;      // MemTotal, bytes
  int64_t containers = 0;  // every container the daemon holds
};

// One container port: exposed always; published on the host when `publish` is true.
struct PortSpec {
  int container_port = 0;
  std::string protocol = "tcp";  // "tcp" or "udp"
  bool publish = true;
  std::string host_ip;  // "" means every address; tests use "127.0.0.1"
  int host_port = 0;    // 0 lets the engine choose
  int host_port_end = 0;  // > host_port: the engine picks a free port of host_port..end
};

// A published port as the engine reports it.
struct PortBinding {
  int container_port = 0;
  std::string protocol;
  std::string host_ip;
  int host_port = 0;
};

// Compose `restart`: "no", "always", "unless-stopped" or "on-failure".
struct RestartPolicy {
  std::string name = "no";
  int maximum_retry_count = 0;  // only for "on-failure"
};

// Compose `healthcheck`. `test` is the engine form: {"CMD-SHELL", "cmd"} or {"CMD", ...}
// or {"NONE"}; zero durations mean the engine default.
struct Healthcheck {
  std::vector<std::string> test;
  int64_t interval_ms = 0;
  int64_t timeout_ms = 0;
  int64_t start_period_ms = 0;
  int retries = 0;
};

// Everything POST /containers/create needs. Unset optionals keep the image's value.
struct ContainerSpec {
  std::string name;                                    // "" lets the engine name it
  std::string image;                                   // reference or id
  std::optional<std::vector<std::string>> cmd;         // replaces the image CMD when set
  std::optional<std::vector<std::string>> entrypoint;  // replaces ENTRYPOINT; {} clears it
  std::vector<std::string> env;                        // "KEY=value"
  Labels labels;                                       // berth.app, berth.key, ...
  std::vector<PortSpec> ports;
  // The one network joined at creation (the API takes one); others via ConnectNetwork.
  std::string network;               // "" means the default bridge
  // The id of `network` when known: the container is joined by id (a name two networks
  // share stays usable; Docker 20.10 lets that happen).
  std::string network_id;
  std::string ipv4_address;          // fixed address on `network`
  std::vector<std::string> aliases;  // DNS aliases on `network`
  std::string hostname;
  std::string user;
  std::string working_dir;
  std::vector<std::string> binds;     // "src:dst[:opts]" volumes (opts e.g. "ro,z")
  std::vector<std::string> anonymous_volumes;  // targets; the engine makes each a volume
  std::optional<bool> init;           // run docker-init as PID 1
  std::string stop_signal;            // e.g. "SIGINT"; "" keeps default
  std::optional<int> stop_timeout_s;  // Compose stop_grace_period
  RestartPolicy restart;
  std::optional<Healthcheck> healthcheck;
  // More fields of the create body, each field name -> its JSON text, set as they are
  // (HostConfig's and the top level's); a field named above wins.
  std::map<std::string, std::string> extra_host_config, extra_config;
  std::string platform;  // "linux/amd64"; "" the engine's own
};

// A container's address on one network.
struct NetworkAttachment {
  std::string network_id;
  std::string ip_address;  // "" when the container is not running
  std::vector<std::string> aliases;
};

// Container state. `health` is "" when the container has no healthcheck (ListContainers
// reads it from the list's status text, e.g. "Up 2 minutes (healthy)").
struct ContainerState {
  std::string status;  // "created", "running", "paused", "restarting", "exited", "dead"
  bool running = false;
  int exit_code = 0;
  std::string health;  // "", "starting", "healthy", "unhealthy"
  std::string started_at;
  std::string finished_at;
};

struct ContainerInfo {
  std::string id;
  std::string name;      // without the leading "/"
  std::string image;     // the reference it was created from
  std::string image_id;  // "sha256:..."
  ContainerState state;
  Labels labels;
  std::string ip_address;                             // first network's address
  std::map<std::string, NetworkAttachment> networks;  // by network name
  std::vector<PortBinding> ports;                     // published ports
};

// A command run inside a running container (docker exec).
struct ExecSpec {
  std::vector<std::string> cmd;
  std::vector<std::string> env;
  std::string user;
  std::string working_dir;
  int64_t timeout_ms = 60'000;          // whole call, including the command's run
  int64_t output_bytes_max = 16 << 20;  // per stream; the rest is dropped
  // Polled while the command runs (about once a second); true ends the call with
  // kCancelled. The command itself keeps running in the container: the caller stops it.
  std::function<bool()> cancelled;
};

struct ExecResult {
  int exit_code = 0;
  std::string stdout_text;
  std::string stderr_text;
  bool truncated = false;  // output went over output_bytes_max
};

// docker commit: a container's file system and config become image repo:tag.
struct CommitSpec {
  std::string container;
  std::string repo;
  std::string tag = "latest";
  Labels labels;                     // added to the image's labels
  std::vector<std::string> changes;  // Dockerfile instructions, e.g. "CMD [\"httpd\"]"
  std::string comment;
  bool pause = true;  // pause the container while committing
};

struct ImageInfo {
  std::string id;  // "sha256:..."
  std::vector<std::string> repo_tags;
  Labels labels;
  std::string created;  // RFC 3339 from inspect; seconds since epoch as text from list
  int64_t size_bytes = 0;
  // From inspect only (Config.Cmd / Config.Entrypoint); nullopt when the image has none.
  std::optional<std::vector<std::string>> cmd, entrypoint;
};

// Which images ListImages returns; empty fields do not filter.
struct ImageFilter {
  Labels labels;          // every label must match ("" value: the key must exist)
  std::string reference;  // e.g. "berth/*" or "berth/busybox:test"
};

// A build context: a tar archive (see build_context.h) plus what docker build takes.
struct BuildSpec {
  std::string context_tar;
  std::string dockerfile = "Dockerfile";  // path inside the context
  std::vector<std::string> tags;          // "repo:tag"
  std::map<std::string, std::string> build_args;
  Labels labels;
  bool no_cache = false;
  int64_t timeout_ms = 600'000;
  // More build parameters by their API name (target, networkmode, shmsize, ...), as text.
  std::map<std::string, std::string> options;
};

struct BuildResult {
  std::string image_id;  // "sha256:..."
  std::string log;       // the build's text output
};

// A network to create. Same subnet and bridge name on every host gives one flat network.
struct NetworkSpec {
  std::string name;
  std::string driver = "bridge";
  std::string subnet;                          // "10.77.0.0/16"; "" lets the engine choose
  std::string gateway;                         // "" lets the engine choose
  std::map<std::string, std::string> options;  // com.docker.network.bridge.name, ...
  Labels labels;
  bool internal = false;
  bool attachable = true;
};

struct NetworkInfo {
  std::string id;
  std::string name;
  std::string driver;
  std::string subnet;
  std::string gateway;
  std::map<std::string, std::string> options;
  Labels labels;
  bool internal = false;
  std::string created;  // RFC 3339 with nanoseconds, as the engine reports it
  std::map<std::string, std::string> containers;  // container id -> "10.77.0.5/16"; inspect only
};

// How a container joins a network after creation.
struct EndpointSpec {
  std::string ipv4_address;
  std::vector<std::string> aliases;
};

// GET /events filters (Engine API names: "type", "label", "container", "event", ...).
struct EventFilter {
  std::map<std::string, std::vector<std::string>> filters;
  std::string since;  // unix seconds or RFC 3339; "" means from now
  std::string until;  // "" means stream until cancelled
};

// One decoded event message.
struct Event {
  std::string type;    // "container", "image", "network", ...
  std::string action;  // "create", "start", "die", "health_status: healthy", ...
  std::string actor_id;
  std::map<std::string, std::string> attributes;  // labels, name, image, exitCode, ...
  int64_t time_nano = 0;
};

}  // namespace berth::docker
