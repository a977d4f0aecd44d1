// berth ps / images: what the cloud's Docker engines hold of Berth's apps, with what the log knows
// of it (restart give-ups, cache hits), through the server when one holds the log.
#include <fmt/format.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <tuple>

#include "engine/events.h"
#include "server/api.h"
#include "server/views.h"
#include "tools/berth/apps.h"
#include "tools/berth/client.h"
#include "tools/berth/hosts_cmd.h"
#include "workflows/deploy/names.h"
#include "workflows/deploy/restart.h"

namespace berth::tool {

using json = nlohmann::json;
namespace wf = berth::workflows;

namespace {
std::string Label(const docker::ContainerInfo& c, const char* key) { return docker::LabelValue(c.labels, key); }

// A host's engine failed a listing of `what`: with one engine the command fails (its exit
// code returned); with several the host is named and skipped (nullopt).
std::optional<int> HostFailed(size_t engines, const std::string& host, const Status& s, const char* what) {
  if (engines == 1) return Fail(s);
  std::cerr << "berth: host " << host << ": " << s.message() << " (its " << what << " are not listed)\n";
  return std::nullopt;
}
}  // namespace

namespace {
// Why a stopped container stays stopped, when the restart policy gave it up: the error of
// its latest restart workflow if that one failed, else "". Asks the server when one holds
// the log, else reads it (nothing when it is busy or absent). Reads that container's
// restart workflows only (their ids share a prefix).
class GaveUp {
 public:
  explicit GaveUp(const Globals& g) : g_(g) {}
  std::string Why(const std::string& container) {
    // Opened at the first stopped container only: a `ps` of running ones holds no lock that
    // a concurrent in-process `up` would find taken.
    if (!opened_) {
      opened_ = true;
      server_ = ServerClient::Find(g_);
      if (!server_)
        if (auto c = Context::Open(g_, /*create=*/false); c.ok()) ctx_ = std::move(c).value();
    }
    const std::string prefix = wf::RestartWorkflowPrefix(container);
    json rows;
    if (server_) {
      auto r = server_->Get("/v1/workflows?limit=0&prefix=" + server::PercentEncode(prefix));
      if (!r.ok()) return "";
      rows = (*r)["workflows"];
    } else if (ctx_) {
      auto page = server::ListWorkflows(ctx_->log(), "", "", 0, "", prefix);
      if (!page.ok()) return "";
      rows = page->workflows;
    }
    json last;
    for (const auto& w : rows)
      if (wf::IsRestartOf(w["id"].get<std::string>(), container)) last = w;
    return last.is_object() && last["status"] == "failed" ? last.value("error", "") : "";
  }

 private:
  const Globals& g_;
  bool opened_ = false;
  std::optional<ServerClient> server_;
  std::unique_ptr<Context> ctx_;
};
}  // namespace

int Ps(const Globals& g, const std::string& app) {
  auto engines = CloudEngines(g);
  if (!engines.ok()) return FailEngine(engines.status());
  GaveUp gave_up(g);
  docker::Labels filter = {{wf::kLabelApp, app}};
  std::vector<json> rows;
  for (const auto& engine : *engines) {
  auto list = engine.client->ListContainers(filter);
  if (!list.ok()) {
    if (auto rc = HostFailed(engines->size(), engine.host, list.status(), "containers")) return *rc;
    continue;
  }
  for (const auto& c : *list) {
    if (Label(c, wf::kLabelRole) == "install") continue;
    std::string image = Label(c, "berth.image");
    json ports = json::array();
    for (const auto& p : c.ports)
      ports.push_back(fmt::format("{}:{}->{}/{}", p.host_ip, p.host_port, p.container_port, p.protocol));
    std::string ip = c.ip_address;
    if (ip.empty())
      for (const auto& [net, at] : c.networks)
        if (!at.ip_address.empty()) { ip = at.ip_address; break; }
    rows.push_back({{"app", Label(c, wf::kLabelApp)},
                    {"service", Label(c, wf::kLabelService)},
                    {"container", c.name},
                    {"index", std::atoi(Label(c, wf::kLabelIndex).c_str())},
                    {"host", Label(c, wf::kLabelHost)},
                    {"image", image.empty() ? c.image : image},
                    {"status", c.state.status},
                    {"health", c.state.health},
                    {"restart", c.state.running ? std::string() : gave_up.Why(c.name)},
                    {"ip", ip},
                    {"ports", ports},
                    {"id", c.id.substr(0, 12)},
                    {"workflow", Label(c, wf::kLabelWorkflow)}});
  }
  }
  std::sort(rows.begin(), rows.end(), [](const json& x, const json& y) {
    return std::tie(x["app"].get_ref<const std::string&>(), x["service"].get_ref<const std::string&>(),
                    x["index"].get_ref<const int64_t&>()) <
           std::tie(y["app"].get_ref<const std::string&>(), y["service"].get_ref<const std::string&>(),
                    y["index"].get_ref<const int64_t&>());
  });
  if (g.output == Output::kJson) {
    std::cout << json(rows).dump() << "\n";
    return 0;
  }
  if (rows.empty()) {
    std::cerr << (app.empty() ? std::string(engines->size() == 1 ? "no Berth containers on this engine\n" : "no Berth containers on the cloud's hosts\n")
                              : "no containers of app " + app + "\n");
    return 0;
  }
  std::cout << fmt::format("{:<10} {:<10} {:<18} {:<8} {:<30} {:<19} {:<15} {}\n", "APP", "SERVICE",
                           "CONTAINER", "HOST", "IMAGE", "STATUS", "IP", "PORTS");
  for (const auto& r : rows) {
    std::string ports;
    for (const auto& p : r["ports"]) ports += (ports.empty() ? "" : ",") + p.get<std::string>();
    std::cout << fmt::format("{:<10} {:<10} {:<18} {:<8} {:<30} {:<19} {:<15} {}\n",
                             r["app"].get<std::string>(), r["service"].get<std::string>(),
                             r["container"].get<std::string>(), r["host"].get<std::string>(),
                             r["image"].get<std::string>(),
                             r["status"].get<std::string>() +
                                 (r["health"].get<std::string>().empty() ? "" : " (" + r["health"].get<std::string>() + ")") +
                                 (r["restart"].get<std::string>().empty() ? "" : " (gave up)"),
                             r["ip"].get<std::string>(), ports);
  }
  for (const auto& r : rows)  // the reason in full, below the table
    if (!r["restart"].get<std::string>().empty())
      std::cerr << "berth: " << r["container"].get<std::string>() << ": " << r["restart"].get<std::string>() << "\n";
  return 0;
}

namespace {
// "10.213.7.1:5213/berth-cache/web:ab12" names an image by a registry (Docker's rule: a
// first component with a '.' or ':', or "localhost"): the same image as the tag without it.
bool RegistryTag(const std::string& tag) {
  size_t slash = tag.find('/');
  if (slash == std::string::npos) return false;
  std::string first = tag.substr(0, slash);
  return first == "localhost" || first.find_first_of(".:") != std::string::npos;
}
}  // namespace

int Images(const Globals& g) {
  auto engines = CloudEngines(g);
  if (!engines.ok()) return FailEngine(engines.status());
  // The hits are counted in the log: through a server when one holds it, else here.
  std::optional<ServerClient> server = ServerClient::Find(g);
  std::unique_ptr<Context> ctx;
  if (!server)
    if (auto c = Context::Open(g, /*create=*/false); c.ok()) ctx = std::move(c).value();
  // One row per image (tag and id) with the hosts that hold it, in the cloud's order.
  std::vector<json> rows;
  std::map<std::pair<std::string, std::string>, size_t> row_of;
  for (const auto& engine : *engines) {
    for (const char* kind : {wf::kLabelCacheKey, wf::kLabelContextHash}) {
      docker::ImageFilter f;
      f.labels = {{kind, ""}};
      auto list = engine.client->ListImages(f);
      if (!list.ok()) {
        if (auto rc = HostFailed(engines->size(), engine.host, list.status(), "images")) return *rc;
        break;
      }
      for (const auto& im : *list) {
        for (const auto& tag : im.repo_tags) {
          // Superseded (its tag moved to a newer image), or the registry's name for it.
          if (tag == "<none>:<none>" || RegistryTag(tag)) continue;
          auto [it, fresh] = row_of.try_emplace({tag, im.id}, rows.size());
          if (!fresh) {
            rows[it->second]["hosts"].push_back(engine.host);
            continue;
          }
          // Hits: containers created from this image (each skipped the install or build),
          // counted in this data directory's log.
          uint64_t hits = 0;
          if (server) {
            auto n = server->Get("/v1/subjects/" + server::PercentEncode(wf::ImageSubject(tag)) +
                                 "?type=" + engine::ev::kActivityCompleted);
            if (!n.ok()) return Fail(n.status());
            hits = (*n)["events"].get<uint64_t>();
          } else if (ctx) {
            (void)ctx->log().ScanSubject(wf::ImageSubject(tag), [&](const eventlog::Event& e) {
              hits += e.type == engine::ev::kActivityCompleted;
              return true;
            });
          }
          auto label = [&](const char* k) { return docker::LabelValue(im.labels, k); };
          rows.push_back({{"image", tag},
                          {"kind", std::string(kind) == wf::kLabelCacheKey ? "install-cache" : "build"},
                          {"service", label(wf::kLabelService)},
                          {"key", label(kind).substr(0, 12)},
                          {"id", im.id.substr(7, 12)},
                          {"size_mb", double(im.size_bytes) / 1e6},
                          {"hits", hits},
                          {"hosts", json::array({engine.host})}});
        }
      }
    }
  }
  if (g.output == Output::kJson) {
    std::cout << json(rows).dump() << "\n";
    return 0;
  }
  std::cout << fmt::format("{:<40} {:<14} {:<12} {:<13} {:>8} {:>6}  {}\n", "IMAGE", "KIND", "SERVICE",
                           "ID", "SIZE_MB", "HITS", "HOSTS");
  for (const auto& r : rows) {
    std::string hosts;
    for (const auto& h : r["hosts"]) hosts += (hosts.empty() ? "" : ",") + h.get<std::string>();
    std::cout << fmt::format("{:<40} {:<14} {:<12} {:<13} {:>8.1f} {:>6}  {}\n",
                             r["image"].get<std::string>(), r["kind"].get<std::string>(),
                             r["service"].get<std::string>(), r["id"].get<std::string>(),
                             r["size_mb"].get<double>(), r["hits"].get<uint64_t>(), hosts);
  }
  return 0;
}

}  // namespace berth::tool
