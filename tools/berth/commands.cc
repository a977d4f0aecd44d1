#include "tools/berth/commands.h"

#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "engine/events.h"
#include "replay/describe.h"
#include "replay/verify.h"
#include "server/api.h"
#include "server/views.h"
#include "tools/berth/client.h"

namespace berth::tool {

using nlohmann::json;

int Fail(const Status& s) {
  std::cerr << "berth: " << s.ToString() << "\n";
  return (s.code() == Code::kFailed || s.code() == Code::kCorruption) ? 1 : 2;
}

namespace {

Result<std::string> ReadInput(const std::string& arg) {
  std::string text = arg;
  if (!arg.empty() && arg[0] == '@') {
    std::ifstream in(arg.substr(1));
    if (!in) return InvalidArgument("cannot read input file '" + arg.substr(1) + "'");
    std::stringstream ss;
    ss << in.rdbuf();
    text = ss.str();
  }
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded())
    return InvalidArgument("--input is not valid JSON: '" + text.substr(0, 80) +
                           "' (give a JSON object, e.g. '{\"steps\": 5}', or @FILE)");
  return j.dump();
}

using server::SummaryJson;

// Live one-line progress on a TTY: events and completed steps of the workflows we watch.
struct Progress {
  bool tty = ::isatty(2);
  std::atomic<uint64_t> events{0}, steps{0};
  void OnEvent(const std::string& workflow_id, const std::string& type) {
    ++events;
    if (type == engine::ev::kActivityCompleted) ++steps;
    if (tty && (events % 16 == 1 || type == engine::ev::kWorkflowCompleted))
      std::cerr << fmt::format("\r  {} events, {} steps done, last: {} {}   ", events.load(),
                               steps.load(), workflow_id, type)
                << std::flush;
  }
  void Done() {
    if (tty && events) std::cerr << "\n";
  }
};

// A workflow's end as `submit` and `cancel` print it, from its summary row (SummaryJson).
int PrintEnded(const Globals& g, const json& s, bool rc_by_status) {
  if (g.output == Output::kJson)
    std::cout << s.dump() << "\n";
  else if (rc_by_status)
    std::cout << fmt::format("{} {} ({} events){}\n", s["id"].get<std::string>(), s["status"].get<std::string>(),
                             s["events"].get<uint64_t>(), s.contains("error") ? ": " + s["error"].get<std::string>() : "");
  else
    std::cout << fmt::format("{} {}\n", s["id"].get<std::string>(), s["status"].get<std::string>());
  return !rc_by_status || s["status"] == "completed" ? 0 : 1;
}

int WaitAndReport(Context& ctx, const std::string& id, Progress& progress) {
  auto r = ctx.engine().Wait(id);
  ctx.engine().WaitIdle();
  progress.Done();
  if (!r.ok()) return Fail(r.status());
  return PrintEnded(ctx.globals(), SummaryJson(r.value()), true);
}

// Follows `id` in the server to its end; Ctrl-C detaches (exit 130).
int FollowInServer(const Globals& g, const ServerClient& server, const std::string& id, Progress* progress,
                   bool rc_by_status) {
  auto wf = server.Follow(id, [&](const json& e) {
    if (progress) progress->OnEvent(e["workflow_id"].get<std::string>(), e["type"].get<std::string>());
  });
  if (progress) progress->Done();
  if (!wf.ok()) {
    if (wf.status().code() != Code::kCancelled) return Fail(wf.status());
    std::cerr << "berth: " << wf.status().message() << "\n";
    return 130;
  }
  return PrintEnded(g, (*wf)["summary"], rc_by_status);
}

}  // namespace

int Submit(const Globals& g, const SubmitArgs& a) {
  auto input = ReadInput(a.input);
  if (!input.ok()) return Fail(input.status());
  auto print_started = [&](const std::string& id) {
    if (g.output == Output::kJson)
      std::cout << json{{"id", id}, {"status", "running"}}.dump() << "\n";
    else
      std::cout << id << "\n";
    return 0;
  };
  if (auto server = ServerClient::Find(g)) {  // it runs there, --detach or not
    json body = {{"type", a.type}, {"input", json::parse(input.value())}};
    if (!a.id.empty()) body["id"] = a.id;
    auto started = server->Post("/v1/workflows", body.dump());
    if (!started.ok()) return Fail(started.status());
    std::string id = (*started)["id"].get<std::string>();
    if (a.detach) return print_started(id);
    Progress progress;
    return FollowInServer(g, *server, id, &progress, true);
  }
  auto ctx = Context::Open(g);
  if (!ctx.ok()) return Fail(ctx.status());
  Progress progress;
  auto& eng = (*ctx)->engine([&](const eventlog::Event& e) { progress.OnEvent(e.workflow_id, e.type); });
  engine::StartRequest req{a.type, a.id, input.value(), eventlog::Actor::kUser, !a.detach};
  auto id = eng.Start(req);
  if (!id.ok()) return Fail(id.status());
  if (a.detach) return print_started(id.value());
  return WaitAndReport(**ctx, id.value(), progress);
}

namespace {
// The page as `workflows` prints it, from the server or from the log.
int PrintWorkflows(const Globals& g, const json& arr, bool more, const std::string& last, uint64_t limit) {
  if (more)
    std::cerr << fmt::format("berth: {} shown; the next page: berth workflows --after {}{}\n",
                             arr.size(), last, limit ? fmt::format(" --limit {}", limit) : "");
  if (g.output == Output::kJson) {
    std::cout << arr.dump() << "\n";
    return 0;
  }
  std::cout << fmt::format("{:<40} {:<12} {:<10} {:>7}  {:<24} {}\n", "ID", "TYPE", "STATUS",
                           "EVENTS", "STARTED", "ENDED");
  for (const auto& w : arr)
    std::cout << fmt::format("{:<40} {:<12} {:<10} {:>7}  {:<24} {}\n", w["id"].get<std::string>(),
                             w["type"].get<std::string>(), w["status"].get<std::string>(),
                             w["events"].get<uint64_t>(), w["started"].get<std::string>(),
                             w["ended"].is_null() ? "" : w["ended"].get<std::string>());
  return 0;
}

int PrintHistory(const Globals& g, const json& arr) {
  if (g.output == Output::kJson) {
    std::cout << arr.dump() << "\n";
    return 0;
  }
  std::cout << fmt::format("{:>8}  {:<24}  {:<6}  {:<18}  {}\n", "SEQ", "TIME", "ACTOR", "TYPE",
                           "SUMMARY");
  for (const auto& e : arr)
    std::cout << fmt::format("{:>8}  {:<24}  {:<6}  {:<18}  {}\n", e["seq"].get<uint64_t>(),
                             e["time"].get<std::string>(), e["actor"].get<std::string>(),
                             e["type"].get<std::string>(), e["summary"].get<std::string>());
  return 0;
}
}  // namespace

int Workflows(const Globals& g, const std::string& status, const std::string& type,
              uint64_t limit, const std::string& after) {
  if (auto server = ServerClient::Find(g)) {  // a `berth serve` holds the data directory
    std::string target = "/v1/workflows?limit=" + std::to_string(limit);
    if (!status.empty()) target += "&status=" + server::PercentEncode(status);
    if (!type.empty()) target += "&type=" + server::PercentEncode(type);
    if (!after.empty()) target += "&after=" + server::PercentEncode(after);
    auto page = server->Get(target);
    if (!page.ok()) return Fail(page.status());
    const json& next = (*page)["next_after"];
    const json& rows = (*page)["workflows"];
    return PrintWorkflows(g, rows, !next.is_null(), next.is_null() ? "" : next.get<std::string>(), limit);
  }
  auto ctx = Context::Open(g, /*create=*/false);
  if (!ctx.ok()) return Fail(ctx.status());
  auto page = server::ListWorkflows((*ctx)->log(), status, type, limit, after);
  if (!page.ok()) return Fail(page.status());
  return PrintWorkflows(g, page->workflows, page->more, page->last_id, limit);
}

int History(const Globals& g, const std::string& id) {
  if (auto server = ServerClient::Find(g)) {
    auto events = server->Get("/v1/workflows/" + server::PercentEncode(id) + "/events");
    if (!events.ok()) return Fail(events.status());
    return PrintHistory(g, *events);
  }
  auto ctx = Context::Open(g, false);
  if (!ctx.ok()) return Fail(ctx.status());
  auto events = server::WorkflowEvents((*ctx)->log(), id);
  if (!events.ok()) return Fail(events.status());
  return PrintHistory(g, *events);
}

int Replay(const Globals& g, const std::string& id, bool verify) {
  // Through one snapshot of the log (server::VerifyJson): beside a server as well as alone.
  Result<json> got = json();
  if (auto server = ServerClient::Find(g)) {
    got = server->Get("/v1/replay" + (id.empty() ? std::string() : "?workflow=" + server::PercentEncode(id)));
  } else {
    auto ctx = Context::Open(g, false);
    if (!ctx.ok()) return Fail(ctx.status());
    got = server::VerifyJson((*ctx)->log(), (*ctx)->registry(), id);
  }
  if (!got.ok()) return Fail(got.status());
  json& j = *got;
  bool ok = j["ok"].get<bool>();
  if (!verify) j["note"] = "pass --verify to fail (exit 1) on any problem";
  if (g.output == Output::kJson) {
    std::cout << j.dump() << "\n";
  } else if (ok) {
    std::cout << fmt::format(
        "verified: {} events, {} workflows, {} decisions re-derived, {} projections; hash chain "
        "and checksums intact ({:.3f} s)\n",
        j["events"].get<uint64_t>(), j["workflows"].get<uint64_t>(), j["decisions"].get<uint64_t>(),
        j["projections"].get<uint64_t>(), j["seconds"].get<double>());
  }
  if (!ok) {
    std::cerr << "berth: replay found a problem: " << j["error"].get<std::string>() << "\n";
    return verify ? 1 : 0;
  }
  return 0;
}

int Resume(const Globals& g, bool detach) {
  // A server resumed every unfinished workflow when it started and runs what is started
  // since: there is nothing left for resume to do, which is success, not a busy directory.
  if (auto server = ServerClient::Find(g)) {
    auto running = server->Get("/v1/workflows?status=running&limit=0");
    if (!running.ok()) return Fail(running.status());
    size_t n = (*running)["workflows"].size();
    if (g.output == Output::kJson)
      std::cout << json{{"server", true}, {"running", n}}.dump() << "\n";
    else
      std::cout << fmt::format("berth serve holds {} and runs every unfinished workflow itself ({} running now); "
                               "nothing to resume\n", g.data_dir, n);
    return 0;
  }
  if (detach) {
    // Check the directory is usable before detaching, so errors reach the terminal.
    { auto probe = Context::Open(g, false); if (!probe.ok()) return Fail(probe.status()); }
    pid_t pid = ::fork();
    if (pid < 0) return Fail(IOError("fork failed"));
    if (pid > 0) {
      std::cout << (g.output == Output::kJson ? json{{"pid", pid}}.dump() : fmt::format("resuming in process {}", pid)) << "\n";
      return 0;
    }
    ::setsid();
  }
  auto ctx = Context::Open(g, false);
  if (!ctx.ok()) return Fail(ctx.status());
  Progress progress;
  // How the resumed workflows (and the children they start) end, counted as they end: the
  // report costs nothing per workflow of the history.
  std::atomic<uint64_t> completed{0}, failed{0}, cancelled{0};
  auto& eng = (*ctx)->engine([&](const eventlog::Event& e) {
    progress.OnEvent(e.workflow_id, e.type);
    completed += e.type == engine::ev::kWorkflowCompleted;
    failed += e.type == engine::ev::kWorkflowFailed;
    cancelled += e.type == engine::ev::kWorkflowCancelled;
  });
  size_t n = 0;
  Status s = eng.Recover(&n);
  if (!s.ok()) std::cerr << "berth: " << s.ToString() << "\n";
  eng.WaitIdle();
  progress.Done();
  if (g.output == Output::kJson)
    std::cout << json{{"resumed", n}, {"completed", completed.load()}, {"failed", failed.load()},
                      {"cancelled", cancelled.load()}}.dump() << "\n";
  else
    std::cout << fmt::format("resumed {} workflow(s); all finished ({} completed, {} failed, {} cancelled)\n",
                             n, completed.load(), failed.load(), cancelled.load());
  return s.ok() ? 0 : 1;
}

int Retry(const Globals& g, const std::string& id, const std::string& from) {
  auto said = [&](const std::vector<std::string>& reset) {
    std::cerr << fmt::format("berth: retrying {} from {}: {} step{} run again\n", id, from, reset.size(),
                             reset.size() == 1 ? "" : "s");
  };
  if (auto server = ServerClient::Find(g)) {
    auto r = server->Post("/v1/workflows/" + server::PercentEncode(id) + "/retry", json{{"from", from}}.dump());
    if (!r.ok()) return Fail(r.status());
    said((*r)["reset"].get<std::vector<std::string>>());
    Progress progress;
    return FollowInServer(g, *server, id, &progress, true);
  }
  auto ctx = Context::Open(g, false);
  if (!ctx.ok()) return Fail(ctx.status());
  Progress progress;
  auto& eng = (*ctx)->engine([&](const eventlog::Event& e) { progress.OnEvent(e.workflow_id, e.type); });
  std::vector<std::string> reset;
  if (Status s = eng.Retry(id, from, &reset); !s.ok()) return Fail(s);
  said(reset);
  return WaitAndReport(**ctx, id, progress);
}

int Cancel(const Globals& g, const std::string& id) {
  if (auto server = ServerClient::Find(g)) {
    auto r = server->Post("/v1/workflows/" + server::PercentEncode(id) + "/cancel", "");
    if (!r.ok()) return Fail(r.status());
    return FollowInServer(g, *server, id, nullptr, false);
  }
  auto ctx = Context::Open(g, false);
  if (!ctx.ok()) return Fail(ctx.status());
  auto& eng = (*ctx)->engine();
  if (Status s = eng.Cancel(id); !s.ok()) return Fail(s);
  // Finish the cancellation now: in-doubt steps are reconciled, then it ends as cancelled.
  size_t n = 0;
  if (Status s = eng.Recover(&n, id); !s.ok()) return Fail(s);
  auto r = eng.Wait(id);
  if (!r.ok()) return Fail(r.status());
  return PrintEnded(g, SummaryJson(r.value()), false);
}

}  // namespace berth::tool

namespace berth::tool {

int Pause(const Globals& g, const std::string& id, bool pause) {
  const char* verb = pause ? "pause" : "unpause";
  auto print = [&] {
    if (g.output == Output::kJson)
      std::cout << json{{"id", id}, {"status", pause ? "paused" : "running"}}.dump() << "\n";
    else
      std::cout << fmt::format("{} {}\n", id, pause ? "paused" : "unpaused");
    return 0;
  };
  if (auto server = ServerClient::Find(g)) {
    auto r = server->Post("/v1/workflows/" + server::PercentEncode(id) + "/" + verb, "");
    if (!r.ok()) return Fail(r.status());
    return print();
  }
  auto ctx = Context::Open(g, false);
  if (!ctx.ok()) return Fail(ctx.status());
  // In-process nothing runs the workflow: the event is recorded; it takes effect (pause) or
  // the workflow runs again (unpause) at the next `berth resume`, or in a server.
  auto& eng = (*ctx)->engine();
  Status s = pause ? eng.Pause(id) : eng.Unpause(id);
  if (!s.ok()) return Fail(s);
  if (!pause) {
    auto r = eng.Wait(id);  // loaded by Unpause: run it to its end, as `resume` would
    if (!r.ok()) return Fail(r.status());
  }
  return print();
}

}  // namespace berth::tool
