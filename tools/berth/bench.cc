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
#include "replay/verify.h"
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

// Runs `n` independent workflows of `input` to completion; returns the wall time.
Result<double> RunIndependent(Context& ctx, const std::string& prefix, uint64_t n, const std::string& input) {
  if (Status s = StartDetached(ctx.engine(), prefix, n, input); !s.ok()) return s;
  auto t0 = Clock::now();
  size_t resumed = 0;
  if (Status s = ctx.engine().Recover(&resumed); !s.ok()) return s;
  ctx.engine().WaitIdle();
  return Since(t0);
}

// --children N: one parent with N children of M no-op steps, against N independent
// workflows of the same steps in the same run; then verify of the whole log.
int BenchChildren(const Globals& g, uint64_t children, uint64_t steps) {
  namespace fs = std::filesystem;
  Globals bg = g;
  std::error_code ec;
  std::string input = fmt::format("{{\"steps\":{},\"noop\":true}}", steps);
  json out = {{"children", children}, {"steps", steps}};
  {
    bg.data_dir = g.data_dir + "/bench-independent";
    fs::remove_all(bg.data_dir, ec);
    auto ctx = Context::Open(bg);
    if (!ctx.ok()) return Fail(ctx.status());
    auto wall = RunIndependent(**ctx, "run-", children, input);
    if (!wall.ok()) return Fail(wall.status());
    out["baseline_wall_s"] = std::round(*wall * 1000) / 1000;
    out["baseline_steps_per_s"] = std::round(double(children * steps) / *wall);
  }
  fs::remove_all(bg.data_dir, ec);
  bg.data_dir = g.data_dir + "/bench-children";
  fs::remove_all(bg.data_dir, ec);
  {
    auto ctx = Context::Open(bg);
    if (!ctx.ok()) return Fail(ctx.status());
    std::string parent_input =
        fmt::format("{{\"steps\":{},\"noop\":true,\"children\":{}}}", steps, children);
    auto t0 = Clock::now();
    auto id = (*ctx)->engine().Start({"synthetic", "parent", parent_input, eventlog::Actor::kSystem, true});
    if (!id.ok()) return Fail(id.status());
    auto sum = (*ctx)->engine().Wait(*id);
    double wall = Since(t0);
    if (!sum.ok()) return Fail(sum.status());
    if (sum->status != engine::RunStatus::kCompleted) return Fail(Failed("the parent did not complete: " + sum->error));
    (*ctx)->engine().WaitIdle();
    double total_steps = double((children + 1) * steps);
    out["wall_s"] = std::round(wall * 1000) / 1000;
    out["steps_per_s"] = std::round(total_steps / wall);
    out["ratio"] = std::round(total_steps / wall / out["baseline_steps_per_s"].get<double>() * 1000) / 1000;
    out["events_appended"] = (*ctx)->log().LastSeq();
  }
  {
    auto ctx = Context::Open(bg);
    if (!ctx.ok()) return Fail(ctx.status());
    replay::VerifyReport rep;
    auto t0 = Clock::now();
    if (Status s = replay::Verify((*ctx)->log(), (*ctx)->registry(), "", &rep); !s.ok()) return Fail(s);
    double secs = Since(t0);
    out["verify_s"] = std::round(secs * 1000) / 1000;
    out["verify_events_per_s"] = std::round(double(rep.events) / secs);
    replay::VerifyReport one;
    t0 = Clock::now();
    if (Status s = replay::Verify((*ctx)->log(), (*ctx)->registry(), "parent", &one); !s.ok()) return Fail(s);
    out["verify_parent_s"] = std::round(Since(t0) * 1000) / 1000;
    out["verify_parent_events"] = one.events;
  }
  fs::remove_all(bg.data_dir, ec);
  out["rss_mb"] = std::round(RssMb());
  Print(g, out);
  return 0;
}

// --history M: resume of 100 unfinished workflows on a log that also holds M finished
// events, against the same 100 on a log without history, in the same run. One resume takes
// milliseconds, so each side is the median of kRounds: the baseline on a fresh log each
// round, the history side on one log (each round adds its 100 finished workflows to it).
int BenchHistory(const Globals& g, uint64_t history, uint64_t steps) {
  namespace fs = std::filesystem;
  constexpr uint64_t kOpen = 100;
  constexpr int kRounds = 5;
  std::error_code ec;
  std::string input = fmt::format("{{\"steps\":{},\"noop\":true}}", steps);
  json out = {{"history_events_wanted", history}, {"open_workflows", kOpen}, {"rounds", kRounds}};
  // Fills `dir` with about `finished_events` events of finished workflows.
  auto fill = [&](const Globals& bg, uint64_t finished_events) -> Result<uint64_t> {
    auto ctx = Context::Open(bg);
    if (!ctx.ok()) return ctx.status();
    uint64_t per = 2 * steps + 2;  // events of one finished workflow
    uint64_t n = finished_events / per;
    for (uint64_t done = 0; done < n;) {  // in rounds, so memory stays flat
      uint64_t k = std::min<uint64_t>(n - done, 20000);
      auto w = RunIndependent(**ctx, fmt::format("old-{}-", done), k, input);
      if (!w.ok()) return w.status();
      done += k;
    }
    return (*ctx)->log().LastSeq();
  };
  // Leaves kOpen unfinished workflows, closes, then times open + Recover.
  auto resume_once = [&](const Globals& bg, int round, double* open_s, double* close_s) -> Result<double> {
    {
      auto ctx = Context::Open(bg);
      if (!ctx.ok()) return ctx.status();
      if (Status s = StartDetached((*ctx)->engine(), fmt::format("open-{}-", round), kOpen, input); !s.ok())
        return s;
    }
    auto t0 = Clock::now();
    auto ctx = Context::Open(bg);
    if (!ctx.ok()) return ctx.status();
    *open_s = Since(t0);
    size_t n = 0;
    if (Status s = (*ctx)->engine().Recover(&n); !s.ok()) return s;
    double secs = Since(t0);
    if (n != kOpen) return Failed(fmt::format("resumed {} workflows, not {}", n, kOpen));
    (*ctx)->engine().WaitIdle();
    auto c0 = Clock::now();
    ctx->reset();  // the close that follows a resume: flush and compaction of what it erased
    *close_s = Since(c0);
    return secs;
  };
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  std::vector<double> base, base_open, base_close, with, with_open, with_close;
  Globals bg = g;
  for (int r = 0; r < kRounds; ++r) {
    bg.data_dir = g.data_dir + "/bench-history-0";
    fs::remove_all(bg.data_dir, ec);
    double o = 0, c = 0;
    auto t = resume_once(bg, r, &o, &c);
    if (!t.ok()) return Fail(t.status());
    base.push_back(*t);
    base_open.push_back(o);
    base_close.push_back(c);
  }
  bg.data_dir = g.data_dir + "/bench-history-m";
  fs::remove_all(bg.data_dir, ec);
  auto events = fill(bg, history);
  if (!events.ok()) return Fail(events.status());
  out["history_events"] = *events;
  for (int r = 0; r < kRounds; ++r) {
    double o = 0, c = 0;
    auto t = resume_once(bg, r, &o, &c);
    if (!t.ok()) return Fail(t.status());
    with.push_back(*t);
    with_open.push_back(o);
    with_close.push_back(c);
  }
  fs::remove_all(g.data_dir + "/bench-history-0", ec);
  fs::remove_all(g.data_dir + "/bench-history-m", ec);
  auto r4 = [](double x) { return std::round(x * 10000) / 10000; };
  out["baseline_resume_s"] = r4(median(base));
  out["baseline_open_s"] = r4(median(base_open));
  out["resume_s"] = r4(median(with));
  out["open_s"] = r4(median(with_open));
  out["baseline_close_s"] = r4(median(base_close));
  out["close_s"] = r4(median(with_close));
  out["resume_ratio"] = std::round(median(with) / median(base) * 1000) / 1000;
  out["rss_mb"] = std::round(RssMb());
  Print(g, out);
  return 0;
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

int BenchEngine(const Globals& g, uint64_t workflows, uint64_t steps, uint64_t children,
                uint64_t history) {
  if (children) return BenchChildren(g, children, steps);
  if (history) return BenchHistory(g, history, steps);
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
