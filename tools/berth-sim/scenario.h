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

struct Scenario {
  std::vector<AppScenario> apps;
  static Scenario Draw(Rng& rng);
};

}  // namespace berth::sim
