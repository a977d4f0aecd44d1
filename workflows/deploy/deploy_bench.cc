// deploy_bench: the deploy workflow's own cost at scale, on the real engine and log with the
// in-memory Docker (no engine work): one service of N replicas, for each N given.
// Prints one JSON line per N: wall time, events, decisions' share. Not a test.
//   build/workflows/deploy_bench 250 500 1000 2000
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "engine/engine.h"
#include "replay/verify.h"
#include "workflows/blueprint/blueprint.h"
#include "workflows/deploy/deploy.h"
#include "workflows/deploy/fake_docker.h"

using namespace berth;

int main(int argc, char** argv) {
  for (int a = 1; a < argc; ++a) {
    int n = std::atoi(argv[a]);
    std::string dir = "/tmp/berth-deploy-bench-" + std::to_string(n);
    std::filesystem::remove_all(dir);
    workflows::testing::FakeDocker docker;
    engine::Registry registry;
    workflows::RegisterDeploy(&registry, [&] { return Result<docker::DockerClient*>(&docker); });
    auto log = eventlog::EventLog::Open(dir, eventlog::Options());
    if (!log.ok()) return std::fprintf(stderr, "%s\n", log.status().ToString().c_str()), 2;
    engine::Engine eng(log->get(), &registry, engine::EngineOptions());
    // Services of at most 1000 replicas (the blueprint's limit), n containers in all.
    std::string text = "name: big\nservices:\n";
    for (int left = n, i = 0; left > 0; left -= 1000, ++i)
      text += "  web" + std::to_string(i) + ":\n    image: berth/busybox:test\n    command: [\"httpd\", \"-f\"]\n"
              "    deploy: {replicas: " + std::to_string(std::min(left, 1000)) + "}\n";
    std::vector<workflows::Diagnostic> diags;
    auto bp = workflows::ParseBlueprint(text, "big.yaml", "/tmp", "", &diags);
    if (!bp.ok()) return std::fprintf(stderr, "%s\n", bp.status().ToString().c_str()), 2;
    nlohmann::json in = {{"app", "big"}, {"blueprint", workflows::ToJson(*bp)}, {"cache", true}};
    auto t0 = std::chrono::steady_clock::now();
    auto id = eng.Start({"deploy", "", in.dump(), eventlog::Actor::kUser, true});
    if (!id.ok()) return std::fprintf(stderr, "%s\n", id.status().ToString().c_str()), 2;
    auto sum = eng.Wait(*id);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (!sum.ok() || sum->status != engine::RunStatus::kCompleted)
      return std::fprintf(stderr, "deploy did not complete: %s\n", sum.ok() ? sum->error.c_str() : ""), 1;
    // One decision over the finished history: what every Decide costs at this size.
    auto st = engine::FoldWorkflow(**log, *id);
    if (!st.ok()) return std::fprintf(stderr, "%s\n", st.status().ToString().c_str()), 2;
    st->status = engine::RunStatus::kRunning;
    const engine::Workflow* def = registry.FindWorkflow("deploy");
    auto d0 = std::chrono::steady_clock::now();
    int reps = 20;
    for (int r = 0; r < reps; ++r) (void)def->Decide(*st);
    double decide_us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - d0).count() / reps;
    // replay --verify of the deploy: every decision re-derived.
    replay::VerifyReport report;
    auto v0 = std::chrono::steady_clock::now();
    Status v = replay::Verify(**log, registry, *id, &report);
    double verify_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - v0).count();
    if (!v.ok()) return std::fprintf(stderr, "verify: %s\n", v.ToString().c_str()), 1;
    std::printf("{\"containers\":%d,\"wall_s\":%.3f,\"events\":%llu,\"containers_per_s\":%.0f,"
                "\"decide_us\":%.0f,\"decide_us_per_container\":%.2f,\"verify_s\":%.3f,"
                "\"verify_decides\":%llu}\n",
                n, secs, (unsigned long long)sum->events, n / secs, decide_us, decide_us / n, verify_s,
                (unsigned long long)report.decide_calls);
    eng.Shutdown();
    std::filesystem::remove_all(dir);
  }
  return 0;
}
