// `berth bench log` and `berth bench engine`. Each prints one JSON document (or a table).
#include <fmt/format.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "engine/events.h"
#include "eventlog/log_bench.h"
#include "tools/berth/commands.h"

namespace berth::tool {

using nlohmann::json;
using Clock = std::chrono::steady_clock;

namespace {

double Since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

double RssMb() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_maxrss) / 1024.0;
}

void Print(const Globals& g, const json& j) {
  if (g.output == Output::kJson) {
    std::cout << j.dump() << "\n";
    return;
  }
  for (auto& [k, v] : j.items()) std::cout << fmt::format("{:<24} {}\n", k, v.dump());
}

// Records `n` workflow starts durably (not run), from 64 threads so group commit batches.
Status StartDetached(engine::Engine& eng, const std::string& prefix, uint64_t n, const std::string& input) {
  std::atomic<uint64_t> next{0};
  std::atomic<bool> failed{false};
  Status first;
  std::mutex mu;
  std::vector<std::thread> ts;
  for (int t = 0; t < 64; ++t)
    ts.emplace_back([&] {
      for (uint64_t i; (i = next++) < n && !failed;) {
        engine::StartRequest r{"synthetic", prefix + std::to_string(i), input,
                               eventlog::Actor::kSystem, false};
        auto s = eng.Start(r);
        if (!s.ok()) {
          std::lock_guard<std::mutex> l(mu);
          first = s.status();
          failed = true;
        }
      }
    });
  for (auto& t : ts) t.join();
  return first;
}

}  // namespace

int BenchLog(const Globals& g, uint64_t events, unsigned producers) {
  eventlog::LogBenchOptions o;
  o.dir = g.data_dir + "/bench-log";
  o.events = events;
  o.producers = producers;
  auto r = eventlog::RunLogBench(o);
  if (!r.ok()) return Fail(r.status());
  Print(g, json{{"events", r->events},
                {"producers", r->producers},
                {"events_per_s", std::round(r->events_per_s)},
                {"baseline_events_per_s", std::round(r->baseline_events_per_s)},
                {"ratio", std::round(r->ratio * 1000) / 1000},
                {"p50_us", std::round(r->p50_us)},
                {"p99_us", std::round(r->p99_us)},
                {"mean_batch", std::round(r->mean_batch * 10) / 10},
                {"batches", r->batches}});
  return 0;
}

int BenchEngine(const Globals& g, uint64_t workflows, uint64_t steps) {
  namespace fs = std::filesystem;
  Globals bg = g;
  bg.data_dir = g.data_dir + "/bench-engine";
  std::error_code ec;
  fs::remove_all(bg.data_dir, ec);
  std::string input = fmt::format("{{\"steps\":{},\"noop\":true}}", steps);
  json out = {{"workflows", workflows}, {"steps", steps}};

  // Phase 1: N workflows of M no-op steps, fully durable, all concurrent.
  {
    auto ctx = Context::Open(bg);
    if (!ctx.ok()) return Fail(ctx.status());
    if (Status s = StartDetached((*ctx)->engine(), "run-", workflows, input); !s.ok()) return Fail(s);
    auto t0 = Clock::now();
    size_t n = 0;
    if (Status s = (*ctx)->engine().Recover(&n); !s.ok()) return Fail(s);
    (*ctx)->engine().WaitIdle();
    double wall = Since(t0);
    out["wall_s"] = std::round(wall * 1000) / 1000;
    out["steps_per_s"] = std::round(double(workflows * steps) / wall);
    out["events_appended"] = (*ctx)->log().LastSeq();
  }
  // Phase 2: replay: read, check and fold every event of phase 1.
  {
    auto ctx = Context::Open(bg);
    if (!ctx.ok()) return Fail(ctx.status());
    std::unordered_map<std::string, engine::WorkflowState> states;
    auto t0 = Clock::now();
    Status s = engine::FoldLog((*ctx)->log(), /*only_listed=*/false, &states);
    double secs = Since(t0);
    if (!s.ok()) return Fail(s);
    uint64_t done = 0, events = 0;
    for (auto& [id, st] : states) {
      done += st.status == engine::RunStatus::kCompleted;
      events += st.events;
    }
    if (done != workflows)
      return Fail(Failed(fmt::format("only {} of {} workflows completed", done, workflows)));
    out["replay_events"] = events;
    out["replay_events_per_s"] = std::round(double(events) / secs);
  }
  // Phase 3: resume. Run N more until half their steps are done, stop, reopen, recover.
  {
    auto ctx = Context::Open(bg);
    if (!ctx.ok()) return Fail(ctx.status());
    std::atomic<uint64_t> completed{0};
    uint64_t half = workflows * steps / 2;
    auto& eng = (*ctx)->engine([&](const eventlog::Event& e) {
      if (e.type == engine::ev::kActivityCompleted) ++completed;
    });
    if (Status s = StartDetached(eng, "resume-", workflows, input); !s.ok()) return Fail(s);
    size_t n = 0;
    if (Status s = eng.Recover(&n); !s.ok()) return Fail(s);
    while (completed < half && eng.Running() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    eng.Shutdown();
  }
  {
    auto t0 = Clock::now();
    auto ctx = Context::Open(bg);
    if (!ctx.ok()) return Fail(ctx.status());
    size_t n = 0;
    if (Status s = (*ctx)->engine().Recover(&n); !s.ok()) return Fail(s);
    out["resume_s"] = std::round(Since(t0) * 1000) / 1000;
    out["resumed_workflows"] = n;
    (*ctx)->engine().WaitIdle();
  }
  out["rss_mb"] = std::round(RssMb());
  fs::remove_all(bg.data_dir, ec);
  Print(g, out);
  return 0;
}

}  // namespace berth::tool
