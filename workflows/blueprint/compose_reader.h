// ComposeReader: the typed, diagnosing view of a yaml-cpp tree that the blueprint parser
// uses. Private to workflows/blueprint/.
//
// Every accessor takes a Where (the key path for messages and the place in the file) and,
// when the node is not what it should be, records an error there and returns nullopt, so the
// caller carries on and the next problem is reported too. Nothing here throws: yaml-cpp is
// only asked about a node's type, scalar text, mark and children.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "workflows/blueprint/blueprint.h"

namespace berth::workflows::compose {

// Where a value sits: "services.web.ports[1]" and its 1-based line:col (0:0 when unknown).
struct Where {
  std::string path;
  int line = 0, col = 0;

  Where Key(const std::string& key, const YAML::Node& at) const;
  Where Index(size_t i, const YAML::Node& at) const;
};
Where At(const std::string& path, const YAML::Node& node);

// One key of a map, in file order, with `<<` merge keys already resolved.
struct Entry {
  std::string key;
  YAML::Node value;
  Where where;      // of the value (of the key when the value is null)
  Where key_where;  // same path, the key's place
};

// A list's items, each with its place.
using Items = std::vector<std::pair<YAML::Node, Where>>;

// What a bare KEY (no "=VALUE", or a null value) in KeyValues means.
enum class Bare {
  kEmpty,          // "" (labels)
  kFromEnv,        // Lookup()'s value; "" with a warning when unset
  kFromEnvOrOmit,  // Lookup()'s value; left out when unset (environment, build args)
};

class ComposeReader {
 public:
  // `file_env`: variables from env files (.env, --env-file), below the process environment,
  // which wins as in Compose. Not owned; may be null.
  ComposeReader(std::string file, std::string dir, std::vector<Diagnostic>* out,
                const std::map<std::string, std::string>* file_env = nullptr)
      : file_(std::move(file)), dir_(std::move(dir)), out_(out), file_env_(file_env) {}

  // A variable's value: the process environment's, else the env files', else nullopt.
  std::optional<std::string> Lookup(const std::string& name) const;

  void Error(const Where& w, const std::string& message);
  void Warn(const Where& w, const std::string& message);
  // A key the caller does not handle: `x-...` is skipped, a key in `unsupported` (Compose
  // defines it, Berth does not implement it) is an error, anything else a warning.
  void OtherKey(const Entry& e, const std::set<std::string>& unsupported);
  int errors() const { return errors_; }
  const std::string& dir() const { return dir_; }

  // The map's entries; reports a non-map (unless null, when `null_ok`), non-scalar and
  // duplicate keys.
  std::optional<std::vector<Entry>> Map(const YAML::Node& n, const Where& w, bool null_ok = false);
  // The sequence's items with their Where; reports a non-sequence.
  std::optional<Items> List(const YAML::Node& n, const Where& w);

  // A scalar's text with ${VAR} interpolated (raw: as written).
  std::optional<std::string> String(const YAML::Node& n, const Where& w);
  std::optional<std::string> RawString(const YAML::Node& n, const Where& w);
  std::optional<int64_t> Integer(const YAML::Node& n, const Where& w, int64_t min, int64_t max);
  std::optional<bool> Bool(const YAML::Node& n, const Where& w);
  // A Compose duration ("1m30s", "500ms") in milliseconds.
  std::optional<int64_t> DurationMs(const YAML::Node& n, const Where& w);
  // A list of strings, or (when `one_ok`) a single string as a list of one.
  std::optional<std::vector<std::string>> Strings(const YAML::Node& n, const Where& w, bool one_ok,
                                                  bool interpolate = true);
  // A command: a list of strings, or a string split like a shell would.
  std::optional<std::vector<std::string>> Command(const YAML::Node& n, const Where& w);
  // A map of scalars or a list of "K=V" (null: empty); a later K replaces an earlier one.
  std::optional<std::map<std::string, std::string>> KeyValues(const YAML::Node& n, const Where& w,
                                                              Bare bare);

  // `path` made absolute against the file's directory ("~/" is $HOME), normalised.
  std::string AbsolutePath(const std::string& path) const;
  // Interpolates ${VAR}, ${VAR:-d}, ${VAR-d}, ${VAR:?e}, ${VAR?e}, ${VAR:+a}, ${VAR+a},
  // $VAR and $$ from Lookup().
  std::optional<std::string> Interpolate(const std::string& s, const Where& w);

 private:
  void Add(Diagnostic::Severity severity, const Where& w, const std::string& message);
  void MergeInto(const YAML::Node& n, const Where& w, int depth, std::set<std::string>* seen,
                 std::vector<Entry>* out);
  std::optional<std::string> InterpolateDepth(const std::string& s, const Where& w, int depth);
  std::optional<std::string> Variable(const std::string& expr, const Where& w, int depth);

  std::string file_, dir_;
  std::vector<Diagnostic>* out_;
  const std::map<std::string, std::string>* file_env_;
  int errors_ = 0;
  std::set<std::string> unset_warned_;
};

// An env file's text (`.env`, --env-file, a service's env_file) as Compose reads it: one
// KEY=VALUE a line; blank lines and lines starting with # skipped; an optional `export `
// prefix; a value in single quotes taken as written, in double quotes with \n, \t, \" and
// \\ unescaped, otherwise up to an unquoted " #" and trimmed. A bare KEY (no `=`) is
// returned with no value (std::nullopt): the caller takes it from the environment or leaves
// it out. Returns the first problem as "line N: why", or "".
// `literal` (optional) gets, parallel to `out`, whether each value was single-quoted
// (Compose interpolates the others in the `.env` file: `A="${A:-x}"`).
std::string ParseEnvFile(const std::string& text,
                         std::vector<std::pair<std::string, std::optional<std::string>>>* out,
                         std::vector<bool>* literal = nullptr);

// Reads and parses the env file at `path`; returns "" or why not (errno text, "line N: ...").
// `missing` (optional) says whether it failed because the file does not exist.
std::string ReadEnvFile(const std::string& path,
                        std::vector<std::pair<std::string, std::optional<std::string>>>* out,
                        std::vector<bool>* literal = nullptr, bool* missing = nullptr);
// Reads a whole file into *text; returns 0 or an errno value (EFBIG past max_bytes).
int ReadTextFile(const std::string& path, size_t max_bytes, std::string* text);

// Value parsers with no YAML in them; each returns an error message or "".
std::string ParseDurationMs(const std::string& s, int64_t* ms);
std::string SplitCommand(const std::string& s, std::vector<std::string>* words);
std::string ParsePorts(const std::string& s, std::vector<PortDef>* out);
// The offset of the first byte that is not part of valid UTF-8, or npos.
size_t InvalidUtf8Offset(const std::string& s);
bool ValidIPv4(const std::string& s);
bool ValidIP(const std::string& s);
bool ValidCidr4(const std::string& s);
// An image reference as Docker reads one: [HOST[:PORT]/]NAME[:TAG][@ALGO:HEX], NAME of
// lowercase components ([a-z0-9]+ joined by ., _, __ or -) separated by /, TAG
// [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}.
bool ValidImageReference(const std::string& s);
// Docker object names as Compose allows them: [a-zA-Z0-9][a-zA-Z0-9_.-]*.
bool ValidObjectName(const std::string& s);
// The app name Compose derives from a directory name.
std::string AppNameFromDirectory(const std::string& dir);

// A mode naming another container's namespace: `service:X` or `container:NAME`. nullopt
// for any other mode; else whether it names a service, and the name ("" or invalid: the
// caller reports it with OtherContainerError).
struct OtherContainer {
  bool service = false;
  std::string name;
};
std::optional<OtherContainer> ParseOtherContainer(const std::string& mode);
// "'service:' ... is not a service name", or "" when the name is valid.
std::string OtherContainerError(const std::string& mode, const OtherContainer& o);

// The rule ValidObjectName checks, for messages.
inline constexpr const char* kObjectNameRule = "must match [a-zA-Z0-9][a-zA-Z0-9_.-]*";

// Top-level volumes and networks (compose_top.cc). Each returns the declared keys and fills
// b->volumes / b->networks. `renamed` gets "<app>_<key>" -> the engine name of a volume
// with a `name:` or `external`; RenameMounts points services' mounts at those names.
std::set<std::string> TopVolumes(ComposeReader& r, const Entry* top, const std::string& app,
                                 Blueprint* b, std::map<std::string, std::string>* renamed);
void RenameMounts(const std::map<std::string, std::string>& renamed, Blueprint* b);
std::set<std::string> TopNetworks(ComposeReader& r, const Entry* top, const std::string& app,
                                  Blueprint* b);

// Parses a whole Compose file into `b` (compose_file.cc); the reader collects every problem.
void ParseComposeFile(ComposeReader& r, const std::string& text, const LoadOptions& options,
                      Blueprint* b);

// Parses one service (`service` is its entry under `services`); `app` prefixes named volumes.
// Declared networks and volumes are checked here, depends_on targets by the caller once every
// service is known (`depends_where` gets the place of each depends_on entry, parallel to the
// result's depends_on). Returns the service even when it has errors, so later checks can
// still name it; the reader counts the errors.
ServiceDef ParseService(ComposeReader& r, const Entry& service, const std::string& app,
                        const std::set<std::string>& networks, const std::set<std::string>& volumes,
                        std::vector<Where>* depends_where);

// A service key that is a field of the engine's create body as it stands (cap_add,
// mem_limit, dns, logging, ...: compose_engine_keys.cc): parsed into def->engine_host or
// def->engine_config, or an error reported; false for any other key.
bool ParseEngineKey(ComposeReader& r, const Entry& e, ServiceDef* def);
// The value such a key stands for, as the create body's JSON; nullopt when `e` is no such key,
// is null, or was reported as wrong.
std::optional<nlohmann::json> EngineKeyValue(ComposeReader& r, const Entry& e);
bool IsEngineKey(const std::string& key);

// The service keys with a syntax of their own (compose_service_parts.cc); nullopt after
// reporting an error.
std::optional<BuildDef> ParseBuild(ComposeReader& r, const Entry& e);
std::optional<std::vector<PortDef>> ParsePorts(ComposeReader& r, const Entry& e);
std::optional<std::vector<ServiceNetwork>> ParseServiceNetworks(
    ComposeReader& r, const Entry& e, const std::set<std::string>& declared);
std::optional<std::vector<VolumeMount>> ParseVolumeMounts(ComposeReader& r, const Entry& e,
                                                          const std::string& app,
                                                          const std::set<std::string>& declared);

// Rules that span services (compose_checks.cc). ActiveProfiles: --profile, else
// COMPOSE_PROFILES; Enabled: a service without profiles, or with an active one ("*": all).
std::set<std::string> ActiveProfiles(ComposeReader& r, const LoadOptions& o);
bool Enabled(const ServiceDef& s, const std::set<std::string>& active);
std::string Joined(const std::vector<std::string>& v, const char* sep);
// container_name: one replica, unique in the file.
void CheckContainerNames(ComposeReader& r, const Blueprint& b);
// Each link's alias becomes an alias of the linked service on the networks both join.
void ApplyLinks(Blueprint* b);
// A service's first container: its container_name, else APP-SERVICE-1.
std::string FirstContainer(const Blueprint& b, const ServiceDef& t);
// volumes_from into engine_host["VolumesFrom"], a service by its first container's name.
void ResolveVolumesFrom(Blueprint* b);
// Compose `configs` / `secrets` (compose_files.cc): the top-level declarations (name -> the
// file), a service's references, and their resolution into read-only bind mounts.
struct TopFile {
  std::string path;  // absolute; "" when it had none (reported)
  Where where;
};
std::map<std::string, TopFile> TopFiles(ComposeReader& r, const Entry* top, bool secret);
void ResolveFileRefs(ComposeReader& r, const std::map<std::string, TopFile>& configs,
                     const std::map<std::string, TopFile>& secrets, Blueprint* b);
// Links of a service on network_mode bridge: Docker's legacy links (HostConfig.Links), to
// the linked service's first container, which must be on the default bridge too.
void LegacyLinks(ComposeReader& r, Blueprint* b);
// network_mode, ipc and pid `service:X` -> "container:<X's first container>" in engine_host,
// and X in `shares` (X is in depends_on already: FinishService).
void ResolveSharedNamespaces(Blueprint* b);

// Cycles in depends_on, each as "a -> b -> a", found in file order; unknown names skipped.
std::vector<std::vector<std::string>> DependencyCycles(const std::vector<ServiceDef>& services);

// x-berth.placement as the JSON text of a placement chain (compose_placement.cc); every
// bad entry is reported at its line:col.
std::string PlacementJson(ComposeReader& r, const YAML::Node& n, const Where& w);

}  // namespace berth::workflows::compose
