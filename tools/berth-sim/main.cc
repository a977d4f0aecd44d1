// berth-sim: the deterministic simulator. See README.md.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "tools/berth-sim/known_bugs.h"
#include "tools/berth-sim/simulation.h"

using namespace berth::sim;
using json = nlohmann::json;

namespace {

// SIM_DIR picks where the logs live. Default: the temp directory, not /dev/shm: RocksDB
// preallocates each new write-ahead log with fallocate, which on tmpfs allocates and zeroes
// the pages (measured here: 4x the system time of ext4, where it is metadata only), and the
// simulator opens a fresh log per seed and again after every crash. Nothing is synced.
std::string WorkDir(unsigned job) {
  const char* env = std::getenv("SIM_DIR");
  std::string root = env && *env ? env : std::filesystem::temp_directory_path().string();
  return fmt::format("{}/berth-sim-{}-{}", root, ::getpid(), job);
}

std::string Mode(bool force_threaded) {
  if (EngineTakesScheduler() && !force_threaded) return "simulated";
  return "threaded (not reproducible: " +
         std::string(EngineTakesScheduler() ? "--threaded was given"
                                            : "the engine does not take a Scheduler yet") +
         ")";
}

bool g_hosts = true;  // --hosts (default) / --no-hosts

int One(uint64_t seed, bool verbose, bool determinism, bool threaded) {
  RunOptions o;
  o.work_dir = WorkDir(0);
  o.narrate = true;
  o.history = verbose;
  o.force_threaded = threaded;
  o.hosts = g_hosts;
  RunResult r = RunSeed(seed, o);
  std::cout << r.output;
  int rc = 0;
  if (!r.ok) {
    std::cout << fmt::format("FAILED seed {}: {}\n  replay: berth-sim --seed {} -v\n", seed, r.failure, seed);
    if (const KnownBug* b = FindKnownBug(r.known_bug)) std::cout << "  known bug " << b->id << ": " << b->title << "\n";
    rc = 1;
  } else {
    std::cout << fmt::format("seed {}: ok ({} events, digest {})\n", seed, r.events, r.digest.substr(0, 16));
  }
  if (determinism) {
    o.narrate = o.history = false;
    RunResult again = RunSeed(seed, o);
    bool same = again.digest == r.digest && again.ok == r.ok && again.failure == r.failure;
    if (same) {
      std::cout << fmt::format("determinism: same log twice ({} events, sha256 {})\n", r.events, r.digest);
    } else if (!r.simulated) {
      std::cout << fmt::format(
          "determinism: DOES NOT HOLD YET: the engine runs on its own threads and a clock that "
          "moves with real time ({}), so two runs of seed {} differ (sha256 {} vs {}, {} vs {} "
          "events). It holds once EngineOptions takes the simulator's Scheduler.\n",
          Mode(threaded), seed, r.digest.substr(0, 16), again.digest.substr(0, 16), r.events, again.events);
      rc = 1;
    } else {
      std::cout << fmt::format("determinism: FAILED: seed {} gave two different logs (sha256 {} vs {}, "
                               "{} vs {} events; outcome '{}' vs '{}')\n",
                               seed, r.digest, again.digest, r.events, again.events, r.failure, again.failure);
      rc = 1;
    }
  }
  std::filesystem::remove_all(o.work_dir);
  return rc;
}

int Many(uint64_t from, uint64_t n, unsigned jobs, bool strict, bool threaded) {
  std::atomic<uint64_t> next{0};
  std::mutex mu;
  std::vector<RunResult> failures, known;
  double faults = 0, crashes = 0, events = 0, sim_s = 0;
  auto t0 = std::chrono::steady_clock::now();
  auto worker = [&](unsigned job) {
    RunOptions o;
    o.work_dir = WorkDir(job);
    o.force_threaded = threaded;
    o.hosts = g_hosts;
    for (uint64_t i; (i = next.fetch_add(1)) < n;) {
      RunResult r = RunSeed(from + i, o);
      std::lock_guard<std::mutex> g(mu);
      faults += double(r.faults);
      crashes += double(r.crashes);
      events += double(r.events);
      sim_s += double(r.sim_us) / 1e6;
      if (r.ok) continue;
      const KnownBug* b = FindKnownBug(r.known_bug);
      std::cout << fmt::format("FAILED seed {}: {}\n  replay: berth-sim --seed {} -v{}\n", r.seed, r.failure,
                               r.seed, b ? std::string("\n  known bug ") + b->id : "")
                << std::flush;
      (b && !strict ? known : failures).push_back(r);
    }
    std::filesystem::remove_all(o.work_dir);
  };
  std::vector<std::thread> threads;
  for (unsigned j = 0; j < jobs; ++j) threads.emplace_back(worker, j);
  for (auto& t : threads) t.join();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  auto by_seed = [](const RunResult& a, const RunResult& b) { return a.seed < b.seed; };
  std::sort(failures.begin(), failures.end(), by_seed);
  std::sort(known.begin(), known.end(), by_seed);
  json out = {{"mode", Mode(threaded)},
              {"seeds", n},
              {"from", from},
              {"jobs", jobs},
              {"seconds", seconds},
              {"seeds_per_s", seconds > 0 ? double(n) / seconds : 0.0},
              {"faults_per_run_mean", n ? faults / double(n) : 0.0},
              {"crashes_per_run_mean", n ? crashes / double(n) : 0.0},
              {"events_per_run_mean", n ? events / double(n) : 0.0},
              {"simulated_seconds_per_run_mean", n ? sim_s / double(n) : 0.0},
              {"failures", json::array()},
              {"known_failures", json::array()},
              {"known_bugs", json::array()}};
  for (const auto& f : failures)
    out["failures"].push_back({{"seed", f.seed}, {"message", f.failure},
                               {"replay", fmt::format("berth-sim --seed {} -v", f.seed)}});
  for (const auto& f : known)
    out["known_failures"].push_back({{"seed", f.seed}, {"bug", f.known_bug}, {"message", f.failure}});
  for (const auto& b : KnownBugs()) out["known_bugs"].push_back({{"id", b.id}, {"title", b.title}});
  std::cout << out.dump(2) << "\n";
  return failures.empty() ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"berth-sim: the real engine, deploy workflows and event log against a faulty "
               "in-memory Docker, crashes and a full disk, all from one seed."};
  uint64_t seed = 0, seeds = 0, from = 1;
  unsigned jobs = std::max(1u, std::min(2u, std::thread::hardware_concurrency()));
  bool verbose = false, determinism = false, strict = false, threaded = false;
  auto* one = app.add_option("--seed", seed, "run one seed, narrate it, print the result");
  auto* many = app.add_option("--seeds", seeds, "run this many seeds (SIM_SEEDS in the environment overrides it) and print JSON");
  many->excludes(one);
  app.add_option("--from", from, "first seed of --seeds (default 1)")->needs(many);
  app.add_option("-j,--jobs", jobs, "seeds run side by side (default: 2, or the cores if fewer)");
  app.add_flag("-v,--verbose", verbose, "with --seed: print every event of the log")->needs(one);
  app.add_flag("--check-determinism", determinism, "with --seed: run it twice and compare a SHA-256 over every event")->needs(one);
  app.add_flag("--strict", strict, "count failures of known bugs (known_bugs.h) as failures");
  app.add_flag("--threaded", threaded, "run on the engine's own threads even if it takes a Scheduler");
  app.add_flag("--hosts,!--no-hosts", g_hosts, "draw cloud seeds too (the default; about 4 in 10): static and provisioned "
               "hosts, placement chains, host add/remove/cordon/uncordon and partitions beside the deploys. "
               "--no-hosts runs every seed on one engine, as before stop 21 (README.md, \"Hosts\")");
  CLI11_PARSE(app, argc, argv);
  if (const char* env = std::getenv("SIM_SEEDS"); env && *env && seeds > 0) seeds = std::strtoull(env, nullptr, 10);
  if (*one) return One(seed, verbose, determinism, threaded);
  if (*many) return Many(from, seeds, std::max(1u, jobs), strict, threaded);
  std::cerr << app.help();
  return 2;
}
