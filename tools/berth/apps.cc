// berth up / down / audit: Compose apps on the Docker engine (ps and images: listing.cc).
#include <fmt/format.h>
#include <pwd.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <map>
#include <mutex>
#include <optional>
#include <nlohmann/json.hpp>
#include <random>

#include "engine/events.h"
#include "replay/describe.h"
#include "server/api.h"
#include "server/views.h"
#include "tools/berth/apps.h"
#include "tools/berth/client.h"
#include "workflows/blueprint/blueprint.h"
#include "workflows/hosts/hosts.h"
#include "workflows/deploy/names.h"

namespace berth::tool {

using nlohmann::json;
namespace wf = berth::workflows;

namespace {

std::string RandomHex(int n) {
  std::random_device rd;
  std::string out;
  for (int i = 0; i < n; ++i) out += "0123456789abcdef"[rd() % 16];
  return out;
}

// "user@host" of whoever runs berth, recorded in each deploy's input for `berth audit`.
std::string WhoAmI() {
  std::string user;
  if (const passwd* pw = ::getpwuid(::geteuid()); pw && pw->pw_name) user = pw->pw_name;
  if (user.empty()) user = "uid" + std::to_string(::geteuid());
  char host[256] = {0};
  ::gethostname(host, sizeof host - 1);
  return user + "@" + host;
}

// Progress of one deploy/undeploy: on a TTY a live block with one line per service,
// otherwise one line per finished or failed step.
class StepPrinter {
 public:
  explicit StepPrinter(std::string workflow) : id_(std::move(workflow)), tty_(::isatty(2)) {}

  // An event as server::EventJson gives it (from the server, or converted in-process).
  void OnEvent(const json& e) {
    if (e["workflow_id"] != id_ || !e.contains("detail")) return;
    const std::string type = e["type"].get<std::string>();
    const json& d = e["detail"];
    std::string step = d.value("step", ""), what;
    if (type == engine::ev::kActivityStarted) {
      uint32_t attempt = d.value("attempt", 1u);
      what = attempt > 1 ? fmt::format("retrying (attempt {})", attempt) : "running";
    } else if (type == engine::ev::kActivityCompleted) {
      what = d.value("adopted", false) ? "done (adopted by reconcile)" : "done";
      if (step.rfind("image/", 0) == 0) {
        json r = json::parse(d.value("result", ""), nullptr, false);
        if (!r.is_discarded() && r.is_object()) what = "done: " + r.value("ref", "") + " (" + r.value("how", "") + ")";
      }
    } else if (type == engine::ev::kActivityFailed) {
      what = std::string(d.value("final", false) ? "FAILED: " : "failed, will retry: ") + d.value("error", "");
    } else {
      return;
    }
    std::lock_guard<std::mutex> g(mu_);
    double t = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
    if (!tty_) {
      if (type != engine::ev::kActivityStarted)
        std::cerr << fmt::format("[{:6.2f}s] {:<28} {}\n", t, step, what);
      return;
    }
    // step "create/web/2" belongs to group "web"; "observe", "network/x" to themselves.
    std::string group = step;
    if (size_t a = step.find('/'); a != std::string::npos) {
      std::string kind = step.substr(0, a);
      size_t b = step.find('/', a + 1);
      group = (kind == "network" || kind == "remove" || kind == "undo" || kind == "network-remove")
                  ? kind
                  : step.substr(a + 1, b == std::string::npos ? std::string::npos : b - a - 1);
    }
    if (!lines_.count(group)) order_.push_back(group);
    lines_[group] = fmt::format("{:<20} {:<22} {}", group, step, what);
    Redraw(t);
  }

  void Done() {
    std::lock_guard<std::mutex> g(mu_);
    if (tty_ && drawn_) std::cerr << "\n";
  }

 private:
  void Redraw(double t) {
    if (drawn_) std::cerr << fmt::format("\x1b[{}A", drawn_);
    for (const auto& g : order_) std::cerr << "\r\x1b[2K" << lines_[g].substr(0, 150) << "\n";
    std::cerr << fmt::format("\r\x1b[2K[{:.1f}s]", t) << std::flush;
    drawn_ = order_.size();
  }

  std::string id_;
  bool tty_;
  std::mutex mu_;
  std::chrono::steady_clock::time_point t0_ = std::chrono::steady_clock::now();
  std::vector<std::string> order_;
  std::map<std::string, std::string> lines_;
  size_t drawn_ = 0;
};

// Resumes whatever an earlier, interrupted berth left unfinished. They run beside this
// command's own workflow and are not waited for: a stuck workflow of another app never
// blocks this one. An unfinished deploy or undeploy of the same app runs first (the
// workflows' exclusive key); whatever is still running when this command ends stays
// unfinished in the log for the next command (`berth resume` waits for all of them).
Status ResumeUnfinished(Context& ctx) {
  size_t n = 0;
  Status s = ctx.engine().Recover(&n);
  if (!s.ok()) return s;
  if (n > 0) std::cerr << fmt::format("berth: resuming {} unfinished workflow(s) alongside\n", n);
  return Status::Ok();
}

// What `up` and `down` print once their workflow ended (status, error, and the result of a
// completed one), whether it ran in-process or in a server.
int ReportApp(const Globals& g, const std::string& type, const std::string& app, const std::string& id,
              const std::string& status, const std::string& error, const json& result) {
  if (g.output == Output::kJson) {
    json out = {{"id", id}, {"app", app}, {"status", status}};
    if (!error.empty()) out["error"] = error;
    if (result.is_object()) out["result"] = result;
    std::cout << out.dump() << "\n";
  } else if (status == "completed" && result.is_object()) {
    if (type == "host") {
      std::string op = result.value("op", ""), name = result.value("name", "");
      if (op == "add") {
        json f = result.value("facts", json::object());
        std::cout << fmt::format("host {}: added ({} CPUs, {} MiB, Docker {}) [{}]\n", name, f.value("cpus", 0),
                                 f.value("memory", int64_t(0)) >> 20, f.value("engine_version", ""), id);
      } else {
        std::cout << fmt::format("host {}: {} [{}]\n", name,
                                 op == "remove" ? "removed" : op == "cordon" ? "cordoned" : "uncordoned", id);
      }
    } else if (type == "deploy")
      std::cout << fmt::format("{}: up ({} created, {} kept, {} restarted, {} removed) [{}]\n", app,
                               result.value("created", 0), result.value("kept", 0),
                               result.value("started", 0), result.value("removed", 0), id);
    else if (result.value("removed", 0) + result.value("networks", 0) == 0)
      std::cout << fmt::format("{}: nothing of this app on the engine (see `berth ps`) [{}]\n", app, id);
    else
      std::cout << fmt::format("{}: down ({} containers, {} networks removed) [{}]\n", app,
                               result.value("removed", 0), result.value("networks", 0), id);
  }
  if (status != "completed") {
    if (type == "host")
      std::cerr << fmt::format("berth: host {} {}: {}\n  (history: berth history {})\n", app, status, error, id);
    else
      std::cerr << fmt::format("berth: {} of {} {}: {}\n  (history: berth history {})\n", type, app, status,
                               error, id);
    return 1;
  }
  return 0;
}

void PrintStarted(const Globals& g, const std::string& id) {
  std::cout << (g.output == Output::kJson ? json{{"id", id}, {"status", "running"}}.dump() : id) << "\n";
}

// `up`/`down` through a running `berth serve`: the server runs the workflow (also with
// --detach), the client prints its progress and its end as in-process.
int RunAppInServer(const Globals& g, const ServerClient& server, const std::string& type, const std::string& app,
                   const std::string& id, const json& input, bool detach) {
  auto started = server.Post("/v1/workflows", json{{"type", type}, {"id", id}, {"input", input}}.dump());
  if (!started.ok()) return Fail(started.status());
  if (detach) {
    PrintStarted(g, id);
    return 0;
  }
  StepPrinter printer(id);
  auto wf = server.Follow(id, [&](const json& e) { printer.OnEvent(e); });
  printer.Done();
  if (!wf.ok()) return wf.status().code() == Code::kCancelled ? (std::cerr << "berth: " << wf.status().message() << "\n", 130)
                                                              : Fail(wf.status());
  const json& sum = (*wf)["summary"];
  return ReportApp(g, type, app, id, sum["status"].get<std::string>(), sum.value("error", ""), (*wf)["result"]);
}

}  // namespace

std::string Caller() { return WhoAmI(); }

int RunApp(const Globals& g, const std::string& type, const std::string& app, const json& input,
           bool detach) {
  std::string id = type + "-" + app + "-" + RandomHex(8);
  // The local engine must answer only when it is the cloud (no host configured).
  const bool needs_local = type == "deploy" || type == "undeploy";
  if (auto server = ServerClient::Find(g)) {
    auto hosts = server->Get("/v1/hosts");
    bool cloud = hosts.ok() && hosts->contains("hosts") && !(*hosts)["hosts"].empty();
    if (needs_local && !cloud)
      if (auto d = ReachableDocker(); !d.ok()) return FailEngine(d.status());
    return RunAppInServer(g, *server, type, app, id, input, detach);
  }
  auto ctx = Context::Open(g);
  if (!ctx.ok()) return Fail(ctx.status());
  json with_cloud = input;
  if (Status s = wf::AddCloud((*ctx)->log(), type, &with_cloud); !s.ok()) return Fail(s);
  const bool cloud = with_cloud.contains("cloud") || with_cloud.contains("hosts");
  if (needs_local && !cloud)
    if (auto d = ReachableDocker(); !d.ok()) return FailEngine(d.status());
  StepPrinter printer(id);
  auto& eng = (*ctx)->engine([&](const eventlog::Event& e) { printer.OnEvent(server::EventJson(e)); });
  if (Status s = ResumeUnfinished(**ctx); !s.ok()) return Fail(s);
  engine::StartRequest req{type, id, with_cloud.dump(), eventlog::Actor::kUser, !detach};
  auto started = eng.Start(req);
  if (!started.ok()) return Fail(started.status());
  if (detach) {
    PrintStarted(g, id);
    return 0;
  }
  auto r = eng.Wait(id);
  printer.Done();
  if (!r.ok()) return Fail(r.status());
  auto wf = server::WorkflowJson((*ctx)->log(), id);
  json result = wf.ok() ? (*wf)["result"] : json(nullptr);
  return ReportApp(g, type, app, id, engine::RunStatusName(r->status), r->error, result);
}


wf::LoadOptions BlueprintArgs::Options() const {
  wf::LoadOptions o;
  o.project = project;
  o.env_files = env_files;
  o.profiles = profiles;
  return o;
}

int LoadOrExplain(const BlueprintArgs& a, wf::Blueprint* out) {
  std::vector<wf::Diagnostic> diags;
  auto bp = wf::LoadBlueprint(a.file, a.Options(), &diags);
  for (const auto& d : diags)
    if (d.severity == wf::Diagnostic::kWarning) std::cerr << "berth: " << d.ToString() << "\n";
  if (!bp.ok()) {
    std::cerr << "berth: " << bp.status().message() << "\n";
    return kExitBadBlueprint;
  }
  *out = std::move(bp).value();
  return 0;
}

int FailEngine(const Status& s) {
  if (s.code() != Code::kUnavailable) return Fail(s);
  std::cerr << "berth: " << s.ToString() << "\n";
  return kExitNoEngine;
}

int Up(const Globals& g, const UpArgs& a) {
  wf::Blueprint b;
  if (int rc = LoadOrExplain(a, &b); rc != 0) return rc;
  if (b.services.empty()) {  // `berth config` shows such a file; a deploy of it would do nothing
    std::cerr << "berth: " << a.file << ": nothing to deploy: no service is declared (or enabled"
              << " by --profile); `berth down " << b.name << "` removes an app\n";
    return kExitBadBlueprint;
  }
  json input = {{"app", b.name}, {"blueprint", wf::ToJson(b)}, {"cache", !a.no_cache},
                {"by", WhoAmI()}};
  return RunApp(g, "deploy", b.name, input, a.detach);
}

int Down(const Globals& g, const std::string& app, bool detach) {
  if (!wf::ValidAppName(app))
    return Fail(InvalidArgument("'" + app + "' is not an app name (see `berth ps` for the apps)"));
  return RunApp(g, "undeploy", app, json{{"app", app}, {"by", WhoAmI()}}, detach);
}

int Audit(const Globals& g, const AuditArgs& a) {
  if (!a.service.empty() && a.app.empty())  // before looking for the data directory
    return Fail(InvalidArgument("--service needs --app (service names repeat across apps)"));
  Result<json> rows = json();
  if (auto server = ServerClient::Find(g)) {
    std::string target = "/v1/audit?app=" + server::PercentEncode(a.app) + "&service=" +
                         server::PercentEncode(a.service) + "&container=" + server::PercentEncode(a.container) +
                         "&host=" + server::PercentEncode(a.host);
    rows = server->Get(target);
  } else {
    auto ctx = Context::Open(g, /*create=*/false);
    if (!ctx.ok()) return Fail(ctx.status());
    rows = server::AuditRows((*ctx)->log(), a.app, a.service, a.container, a.host);
  }
  if (!rows.ok()) return Fail(rows.status());
  if (g.output == Output::kJson) {
    std::cout << rows->dump() << "\n";
    return 0;
  }
  if (rows->empty()) {
    std::cerr << (a.host.empty() ? "no container changes recorded for that selection\n"
                                 : "nothing recorded for host " + a.host + "\n");
    return 0;
  }
  std::cout << fmt::format("{:>7}  {:<24}  {:<18}  {:<30}  {:<20}  {}\n", "SEQ", "TIME", "CONTAINER",
                           "WORKFLOW", "BY", "WHAT");
  for (const auto& r : *rows)
    std::cout << fmt::format("{:>7}  {:<24}  {:<18}  {:<30}  {:<20}  {}\n", r["seq"].get<uint64_t>(),
                             r["time"].get<std::string>(), r["container"].get<std::string>(),
                             r["workflow"].get<std::string>(), r["by"].get<std::string>(),
                             r["what"].get<std::string>());
  return 0;
}

}  // namespace berth::tool
