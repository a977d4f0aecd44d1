// The top level of a Compose file: the app name, networks, volumes, x-berth, then services and
// the checks that need all of them.
#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "workflows/blueprint/compose_reader.h"

namespace berth::workflows::compose {
namespace {

const char kAppNameRule[] = "use 1 to 63 of a-z, 0-9, '_' and '-', starting with a letter or digit";

// The top-level entries Berth reads; the rest were handled while sorting them out.
struct TopLevel {
  const Entry* name = nullptr;
  const Entry* services = nullptr;
  const Entry* networks = nullptr;
  const Entry* volumes = nullptr;
  const Entry* berth = nullptr;
  const Entry* configs = nullptr;
  const Entry* secrets = nullptr;
};

std::string AppName(ComposeReader& r, const std::string& project, const Entry* name) {
  if (!project.empty()) {
    if (!ValidAppName(project)) {
      r.Error(Where{}, "app name '" + project + "' (from -p) is not valid: " + kAppNameRule);
    }
    return project;
  }
  if (name != nullptr) {
    std::optional<std::string> s = r.String(name->value, name->where);
    if (s && !ValidAppName(*s)) {
      r.Error(name->where,
              "app name '" + *s + "' is not valid: " + kAppNameRule + " (or pass -p NAME)");
    }
    return s.value_or("");
  }
  std::string derived = AppNameFromDirectory(r.dir());
  if (!ValidAppName(derived)) {
    r.Error(Where{}, "cannot make an app name from the directory '" + r.dir() +
                         "': pass -p NAME or add a top-level `name:` (" + kAppNameRule + ")");
  }
  return derived;
}

// x-berth.cloud: {driver, max_hosts, min_hosts, headroom, labels}: how the deploy may add
// hosts when none fits (docs/hosts.md). JSON text; "" when absent or wrong (reported).
std::string CloudJson(ComposeReader& r, const YAML::Node& n, const Where& w) {
  nlohmann::json out = nlohmann::json::object();
  for (const Entry& e : r.Map(n, w).value_or(std::vector<Entry>())) {
    if (e.key == "driver") {
      std::string d = r.String(e.value, e.where).value_or("");
      if (d != "local") r.Error(e.where, "'" + d + "' is not a driver Berth provisions with (local)");
      out["driver"] = d;
    } else if (e.key == "max_hosts" || e.key == "min_hosts") {
      if (auto v = r.Integer(e.value, e.where, 0, 1000)) out[e.key] = *v;
      if (e.key == "min_hosts")
        r.Warn(e.key_where, "ignored here: the cloud's minimum is the server's (berth serve --min-hosts N)");
    } else if (e.key == "headroom") {
      (void)r.Integer(e.value, e.where, 0, 100000);
      r.Warn(e.key_where, "ignored here: headroom is the cloud's, kept by the server (berth serve --headroom N)");
    } else if (e.key == "labels") {
      auto labels = r.KeyValues(e.value, e.where, Bare::kEmpty);
      if (labels) out["labels"] = *labels;
    } else {
      r.Warn(e.key_where, "unknown x-berth.cloud key '" + e.key + "' (ignored)");
    }
  }
  if (out.contains("max_hosts") && !out.contains("driver"))
    r.Error(w, "max_hosts needs a driver to provision with (driver: local)");
  return out.empty() ? "" : out.dump();
}

void TopBerth(ComposeReader& r, const Entry* top, Blueprint* b) {
  if (top == nullptr) return;
  for (const Entry& k : r.Map(top->value, top->where, true).value_or(std::vector<Entry>())) {
    if (k.key == "placement") {
      b->placement = PlacementJson(r, k.value, k.where);
    } else if (k.key == "hosts") {
      r.Warn(k.key_where, "not used yet (ignored): the cloud's hosts are `berth host add`'s");
    } else if (k.key == "network") {
      for (const Entry& n : r.Map(k.value, k.where).value_or(std::vector<Entry>())) {
        if (n.key != "subnet") {
          r.Warn(n.key_where, "not used yet (ignored)");
          continue;
        }
        std::string subnet = r.String(n.value, n.where).value_or("");
        if (!ValidCidr4(subnet)) r.Error(n.where, "'" + subnet + "' is not an IPv4 subnet");
        if (!b->networks.front().subnet.empty()) {
          r.Error(n.where, "the default network's subnet is already set under networks.default");
        }
        b->networks.front().subnet = subnet;
      }
    } else if (k.key == "cloud") {
      b->cloud = CloudJson(r, k.value, k.where);
    } else {
      r.Warn(k.key_where, "unknown x-berth key '" + k.key + "' (ignored)");
    }
  }
}

bool InSubnet(const std::string& ip, const std::string& cidr) {
  size_t slash = cidr.find('/');
  in_addr a, net;
  if (!ValidCidr4(cidr) || inet_pton(AF_INET, ip.c_str(), &a) != 1 ||
      inet_pton(AF_INET, cidr.substr(0, slash).c_str(), &net) != 1) {
    return false;
  }
  int bits = std::stoi(cidr.substr(slash + 1));
  uint32_t mask = bits == 0 ? 0 : ~uint32_t{0} << (32 - bits);
  return (ntohl(a.s_addr) & mask) == (ntohl(net.s_addr) & mask);
}

// A fixed address needs a subnet to sit in and can belong to one container only.
void CheckAddresses(ComposeReader& r, const Blueprint& b) {
  for (const ServiceDef& s : b.services) {
    for (const ServiceNetwork& sn : s.networks) {
      if (sn.ipv4_address.empty()) continue;
      Where w{"services." + s.name + ".networks." + sn.name + ".ipv4_address", s.line, s.col};
      const NetworkDef* net = nullptr;
      for (const NetworkDef& n : b.networks) net = n.name == sn.name ? &n : net;
      if (net == nullptr) continue;  // reported as undeclared
      if (net->subnet.empty()) {
        r.Error(w, "a fixed address needs a subnet on network '" + sn.name +
                       "' (ipam.config, or x-berth.network.subnet for default)");
      } else if (!InSubnet(sn.ipv4_address, net->subnet)) {
        r.Error(w, sn.ipv4_address + " is not in " + net->subnet);
      }
      if (s.replicas > 1) r.Error(w, "a fixed address allows only one replica");
    }
  }
}

// Top-level keys Compose defines and Berth does not implement (an error, not a warning).
const std::set<std::string> kUnsupportedTopKeys = {"include", "models"};

void Services(ComposeReader& r, const Entry* top, const std::set<std::string>& networks,
              const std::set<std::string>& volumes, const LoadOptions& options,
              const std::string& v1_services, Blueprint* b) {
  if (top == nullptr) {
    if (!v1_services.empty()) {
      // docker-compose 1.x read this; Compose v2 and the Compose Specification do not.
      r.Error(Where{}, "this is the Compose v1 format (services at the top level: " + v1_services +
                           "); Berth reads the Compose Specification: put them under `services:`");
    } else {
      // Compose takes a file of networks and volumes alone; `berth up` refuses it (apps.cc).
      r.Warn(Where{}, "no `services`: the file declares no containers, so `berth up` has nothing to run");
    }
    return;
  }
  auto entries = r.Map(top->value, top->where, true);
  if (!entries) return;
  if (entries->empty())
    r.Warn(top->key_where, "no services defined: `berth up` has nothing to run");
  std::vector<std::vector<Where>> depends_where;
  const std::set<std::string> active = ActiveProfiles(r, options);
  std::map<std::string, std::vector<std::string>> disabled;  // service -> its profiles
  for (const Entry& s : *entries) {
    if (!ValidObjectName(s.key)) {
      r.Error(s.key_where, "service name '" + s.key + "' " + kObjectNameRule);
    }
    std::vector<Where> where;
    ServiceDef def = ParseService(r, s, b->name, networks, volumes, &where);
    if (!Enabled(def, active)) {
      disabled.emplace(def.name, def.profiles);
      continue;
    }
    depends_where.push_back(std::move(where));
    b->services.push_back(std::move(def));
  }
  if (!entries->empty() && b->services.empty() && !disabled.empty())
    r.Warn(top->key_where, "every service is in a profile and none is enabled: pass --profile NAME");
  for (size_t i = 0; i < b->services.size(); ++i) {
    const ServiceDef& s = b->services[i];
    for (size_t j = 0; j < s.depends_on.size(); ++j) {
      if (auto off = disabled.find(s.depends_on[j]); off != disabled.end()) {
        r.Error(depends_where[i][j], "depends on service '" + s.depends_on[j] +
                                         "', which is only in profile(s) " + Joined(off->second, ", ") +
                                         ": enable one with --profile");
      } else if (b->FindService(s.depends_on[j]) == nullptr) {
        r.Error(depends_where[i][j], "depends on unknown service '" + s.depends_on[j] + "'");
      }
    }
  }
  CheckContainerNames(r, *b);
  ApplyLinks(b);
  LegacyLinks(r, b);
  ResolveVolumesFrom(b);
  ResolveSharedNamespaces(b);
  for (const std::vector<std::string>& cycle : DependencyCycles(b->services)) {
    const ServiceDef* s = b->FindService(cycle.front());
    std::string names;
    for (const std::string& n : cycle) names += (names.empty() ? "" : " -> ") + n;
    r.Error(Where{"services." + s->name + ".depends_on", s->line, s->col},
            "dependency cycle: " + names);
  }
}

// Where a file's content starts and where a second YAML document would, found from document
// markers at column 0 (which YAML forbids inside content). Berth does not use
// YAML::LoadAll: in yaml-cpp 0.7 it loops forever, allocating, after some malformed documents
// (jbeder/yaml-cpp#1040, fixed by #1319 after 0.7.0).
struct FileShape {
  int first_content_line = 0;
  int second_document_line = 0;
};

// A marker or an end followed by more content starts a second document; a trailing one does
// not.
FileShape Shape(const std::string& text) {
  FileShape shape;
  bool started = false;  // a "---" or content seen: the first document has begun
  int pending = 0;       // line of a "---" or "..." that would start another document
  int line = 0;
  for (size_t start = 0; start < text.size() && shape.second_document_line == 0; ++line) {
    size_t end = std::min(text.find('\n', start), text.size());
    std::string l = text.substr(start, end - start);
    start = end + 1;
    auto marker = [&](const char* m) {
      return l.rfind(m, 0) == 0 &&
             (l.size() == 3 || std::isspace(static_cast<unsigned char>(l[3])));
    };
    size_t first = l.find_first_not_of(" \t\r");
    bool blank = first == std::string::npos || l[first] == '#' || (!started && l[0] == '%');
    if (marker("---") || marker("...")) {
      if (started || l[0] == '.') pending = line + 1;
      started = true;
    } else if (!blank) {
      if (pending > 0) shape.second_document_line = pending;
      if (shape.first_content_line == 0) shape.first_content_line = line + 1;
      started = true;
    }
  }
  return shape;
}

// Aliases let a small file stand for a huge tree (one 100 KB anchor aliased 1,000 times is
// 100 MB once read): the tree is measured as it would be expanded, stopping at the limits.
constexpr size_t kExpandedNodesMax = 1'000'000;
constexpr size_t kExpandedBytesMax = size_t{64} << 20;

bool WithinExpansionLimits(const YAML::Node& root, size_t* nodes, size_t* bytes) {
  std::vector<YAML::Node> stack = {root};
  while (!stack.empty()) {
    YAML::Node n = stack.back();
    stack.pop_back();
    if (++*nodes > kExpandedNodesMax) return false;
    if (n.IsScalar()) {
      *bytes += n.Scalar().size();
      if (*bytes > kExpandedBytesMax) return false;
    } else if (n.IsSequence()) {
      for (const YAML::Node& c : n) stack.push_back(c);
    } else if (n.IsMap()) {
      for (const auto& kv : n) {
        stack.push_back(kv.first);
        stack.push_back(kv.second);
      }
    }
  }
  return true;
}

}  // namespace

void ParseComposeFile(ComposeReader& r, const std::string& text, const LoadOptions& options,
                      Blueprint* b) {
  // JSON (the workflow's input) holds UTF-8 only; say where the first bad byte is.
  if (size_t bad = InvalidUtf8Offset(text); bad != std::string::npos) {
    size_t line_start = text.rfind('\n', bad == 0 ? 0 : bad - 1);
    line_start = line_start == std::string::npos || bad == 0 ? 0 : line_start + 1;
    int line = 1 + static_cast<int>(std::count(text.begin(), text.begin() + bad, '\n'));
    r.Error(Where{"", line, static_cast<int>(bad - line_start) + 1}, "the file is not valid UTF-8");
    return;
  }
  if (size_t nul = text.find('\0'); nul != std::string::npos) {
    size_t line_start = nul == 0 ? 0 : text.rfind('\n', nul - 1);
    line_start = line_start == std::string::npos || nul == 0 ? 0 : line_start + 1;
    int line = 1 + static_cast<int>(std::count(text.begin(), text.begin() + nul, '\n'));
    r.Error(Where{"", line, static_cast<int>(nul - line_start) + 1},
            "the file holds a NUL byte: it is not a text file");
    return;
  }
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    Where w{"", e.mark.is_null() ? 0 : e.mark.line + 1, e.mark.is_null() ? 0 : e.mark.column + 1};
    // yaml-cpp's words for a tab in the indentation ("end of map not found", "illegal map
    // value") do not say what is wrong: find the first line indented with a tab.
    std::string hint;
    int line_no = 1;
    for (size_t start = 0; start < text.size() && hint.empty(); ++line_no) {
      size_t end = std::min(text.find('\n', start), text.size());
      size_t first = text.find_first_not_of(' ', start);
      if (first < end && text[first] == '\t')
        hint = " (line " + std::to_string(line_no) + " is indented with a tab: YAML indents with spaces only)";
      start = end + 1;
    }
    // yaml-cpp says "bad file" when the document nests deeper than it reads.
    if (e.msg == "bad file") hint = ": the document nests too deeply here to be read" + hint;
    r.Error(w, "YAML: " + e.msg + hint);
    return;
  }
  size_t nodes = 0, bytes = 0;
  if (!WithinExpansionLimits(root, &nodes, &bytes)) {
    r.Error(Where{}, "the file expands (through its aliases) past " +
                         std::to_string(kExpandedNodesMax) + " values or " +
                         std::to_string(kExpandedBytesMax >> 20) +
                         " MiB of text: refused, as a file this size is a mistake or an attack");
    return;
  }
  const FileShape shape = Shape(text);
  if (shape.second_document_line > 0) {
    r.Error(Where{"", shape.second_document_line, 1}, "more than one YAML document (---)");
  }
  if (root.IsNull()) {
    if (shape.first_content_line == 0) {
      r.Error(Where{}, "the file is empty: a Compose file needs `services`");
    } else {  // yaml-cpp 0.7 reads some malformed text (",a: b") as an empty document
      r.Error(Where{"", shape.first_content_line, 1}, "YAML: the document could not be parsed");
    }
    return;
  }
  if (!root.IsMap()) {
    r.Error(At("", root), "expected a map of Compose keys at the top level");
    return;
  }
  auto entries = r.Map(root, Where{});
  TopLevel top;
  std::string v1;  // the top-level keys that look like v1-format services
  std::string* top_services_v1 = root["services"] ? nullptr : &v1;
  for (const Entry& e : *entries) {
    if (e.key == "name")
      top.name = &e;
    else if (e.key == "services")
      top.services = &e;
    else if (e.key == "networks")
      top.networks = &e;
    else if (e.key == "volumes")
      top.volumes = &e;
    else if (e.key == "x-berth")
      top.berth = &e;
    else if (e.key == "configs")
      top.configs = &e;
    else if (e.key == "secrets")
      top.secrets = &e;
    else if (e.key != "version" && top_services_v1 != nullptr && e.value.IsMap() &&
             e.key.rfind("x-", 0) != 0 && !kUnsupportedTopKeys.count(e.key))
      // No `services`, and a map under a key Compose does not define: a v1 service (an
      // override file's may have neither image nor build). No warning: the error says it.
      *top_services_v1 += (top_services_v1->empty() ? "" : ", ") + e.key;
    else if (e.key != "version")
      r.OtherKey(e, kUnsupportedTopKeys);
  }
  b->name = AppName(r, options.project, top.name);
  std::map<std::string, std::string> renamed;  // "<app>_<key>" -> a volume's own name
  std::set<std::string> volumes = TopVolumes(r, top.volumes, b->name, b, &renamed);
  std::set<std::string> networks = TopNetworks(r, top.networks, b->name, b);
  TopBerth(r, top.berth, b);
  const std::map<std::string, TopFile> configs = TopFiles(r, top.configs, false);
  const std::map<std::string, TopFile> secrets = TopFiles(r, top.secrets, true);
  Services(r, top.services, networks, volumes, options, v1, b);
  ResolveFileRefs(r, configs, secrets, b);
  RenameMounts(renamed, b);
  CheckAddresses(r, *b);
}

}  // namespace berth::workflows::compose
