// Scenarios: what the simulated users ask of Berth, drawn from a seed.
//
// An AppModel is a small Compose app (1-6 services, 1-4 replicas, depends_on chains without
// cycles, some with x-berth install/customize, a healthcheck, a restart policy, a second
// network). It renders to Compose YAML, which the simulator parses with the real blueprint
// parser, so the deploy input is exactly what `berth up` builds.
//
// A Scenario is, per app, a list of operations: deploy, re-deploy unchanged, scale, change a
// service, add or drop a service, a deploy that must fail (a failing install or customize,
// a missing image, an unhealthy service), a deploy cancelled part way, undeploy, and an
// operator stopping a container by hand. One or two apps; the apps' operations at the same
// index run at the same time.
//
// A cloud seed (about 4 in 10) also has 1-3 static hosts from the start, a placement chain
// per app (and distinct-hosts on some services), sometimes provisioning of `local` hosts
// when nothing fits, and host operations: add, remove, cordon, uncordon, a partition.
#pragma once

#include <string>
#include <vector>

#include "tools/berth-sim/sim_random.h"

namespace berth::sim {

struct ServiceModel {
  std::string name;
  int replicas = 1;
  std::vector<std::string> depends_on;
  bool install = false, customize = false, healthcheck = false, init = false;
  bool back_network = false;  // also joins the app's second network
  bool distinct_hosts = false;  // cloud seeds: x-berth.placement [distinct-hosts]
  std::string restart = "no";
  int stop_grace_s = 0;  // 0: unset (Compose's 10 s)
  int version = 1;       // bumped by "change": command and environment change with it
  // Faults of the blueprint itself (the deploy must fail cleanly).
  bool bad_install = false, bad_customize = false, missing_image = false, unhealthy = false;
};

struct AppModel {
  std::string name;
  bool cache = true;  // the deploy input's "cache" (berth up --no-cache: false)
  bool back_network = false;
  std::vector<ServiceModel> services;
  // Cloud seeds: the app's x-berth (placement chain entries as YAML flow items, and whether
  // its deploys may provision `local` hosts, up to `max_hosts`).
  std::vector<std::string> placement;
  bool provision = false;
  int max_hosts = 0;

  std::string Yaml() const;
  bool Bad() const;  // declares something that cannot deploy
  std::string Describe() const;  // "db x1, web x3 [install,customize] <- db"
  ServiceModel* Find(const std::string& service);
};

struct Op {
  // kRacing: two of the app's workflows started back to back (`berth up` twice, or up and
  // then down): `model`'s deploy, then `then` (a deploy of `then_model`, or an undeploy).
  enum Kind { kDeploy, kUndeploy, kCancelledDeploy, kOperatorStop, kRacing } kind = kDeploy;
  std::string app;
  std::string what;  // "deploy", "re-deploy unchanged", "scale web 1->3", ...
  AppModel model;    // for the deploys
  int cancel_after_events = 0;
  std::string container;  // kOperatorStop: which one (may not exist by then)
  bool then_undeploy = false;  // kRacing
  AppModel then_model;         // kRacing, when !then_undeploy
};

struct AppScenario {
  AppModel initial;
  std::vector<Op> ops;
  AppModel final_model;  // the last good declaration, deployed in the calm phase
};

// Cloud seeds: changes to the cloud's hosts, run as `host` workflows at the same time as
// the apps' operations of the same step. The host a remove, cordon, uncordon or partition
// acts on is chosen when it runs (from the inventory then), never h1.
struct HostOp {
  enum Kind { kAdd, kRemove, kCordon, kUncordon, kPartition } kind = kAdd;
  std::string name;         // kAdd: the new static host
  int64_t partition_s = 0;  // kPartition: how long its network is cut
  uint64_t pick = 0;        // which of the candidates (modulo their count)
  std::string What() const;
};

struct CloudScenario {
  bool on = false;
  std::vector<std::string> initial;      // static hosts added at boot: h1, h2, ...
  std::vector<std::vector<HostOp>> ops;  // per step
};

struct Scenario {
  std::vector<AppScenario> apps;
  CloudScenario cloud;
  static Scenario Draw(Rng& rng);
  // A cloud for `sc` from its own stream (so seeds without one keep their draws): hosts,
  // host operations per step, and every app model's placement settings.
  static void DrawCloud(Rng& rng, Scenario* sc);
};

}  // namespace berth::sim
