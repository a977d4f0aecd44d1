// SimCloud: the simulator's pool of Docker hosts, and the host driver that makes them.
//
// Each host is a SimDocker of its own (its own faults, from its own stream of the seed). A
// `static` host is a machine that exists before Berth is told of it (the scenario makes it);
// a `local` host is made by SimDriver::Provision, as the local driver makes a namespace and
// a dockerd. Hosts outlive the simulated process (they are the outside world); a host that
// is deprovisioned stays in the pool, gone (every call refused), so the checkers still see
// what it held.
//
// Provisioning faults (SimDriver, per call, off when calm):
//   - the provisioner fails before making anything                    kUnavailable
//   - it makes the host, then the answer is lost                      kUnknownOutcome
//   - it is slow (1-40 s of simulated time; the step's time limit is 180 s)
// Provision and Deprovision are idempotent by name, as the real drivers' are.
//
// Thread safety: every method may be called from any thread (one lock; each SimDocker has
// its own).
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "adapters/hosts/host_driver.h"
#include "tools/berth-sim/sim_docker.h"

namespace berth::sim {

struct ProvisionFaultRates {
  double fail = 0, lost_answer = 0, slow = 0;
  static ProvisionFaultRates Draw(Rng& rng);
  std::string ToString() const;
};

class SimCloud {
 public:
  SimCloud(SimClock* clock, Rng rng, DockerFaultRates docker_rates, ProvisionFaultRates provision_rates);

  // A machine that exists (a static host's engine); its endpoint is Endpoint(name).
  SimDocker* MakeStatic(const std::string& name);
  static std::string Endpoint(const std::string& name) { return "tcp://" + name + ".sim:2376"; }
  // The host's engine by name, or nullptr (never made). A gone host is returned (it refuses).
  SimDocker* Find(const std::string& name) const;

  struct HostView {
    std::string name, driver;
    const SimDocker* docker;
    bool gone;
  };
  std::vector<HostView> Hosts() const;  // by name

  void Calm();
  void SetCallerAlive(bool alive);
  // The driver for `local` and `static` hosts (the host workflow's describe, provision,
  // deprovision).
  std::unique_ptr<hosts::HostDriver> Driver();

  struct Counters {
    uint64_t provisions = 0, provision_faults = 0, deprovisions = 0;
  };
  Counters counters() const;
  // A violation seen as it happened (a host deprovisioned while it held containers), or "".
  std::string violation() const;

 private:
  friend class SimDriver;
  SimClock* clock_;
  mutable std::mutex mu_;
  Rng rng_;
  DockerFaultRates docker_rates_;
  ProvisionFaultRates provision_rates_;
  bool calm_ = false, caller_alive_ = true;
  struct Host {
    std::string driver;
    std::unique_ptr<SimDocker> docker;
  };
  std::map<std::string, Host> hosts_;
  std::vector<std::unique_ptr<SimDocker>> graveyard_;  // gone hosts whose name was made again
  Counters counters_;
  std::string violation_;
};

}  // namespace berth::sim
