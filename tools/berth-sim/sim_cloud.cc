#include "tools/berth-sim/sim_cloud.h"

#include <fmt/format.h>

#include "workflows/deploy/names.h"

namespace berth::sim {
namespace {
constexpr int64_t kS = 1'000'000;
}  // namespace

ProvisionFaultRates ProvisionFaultRates::Draw(Rng& rng) {
  ProvisionFaultRates r;
  if (rng.Chance(0.3)) return r;  // a provisioner that never fails
  r.fail = rng.Pick(std::vector<double>{0.05, 0.15, 0.3, 0.5});
  r.lost_answer = rng.Pick(std::vector<double>{0, 0.05, 0.15});
  r.slow = rng.Pick(std::vector<double>{0, 0.1, 0.3});
  return r;
}

std::string ProvisionFaultRates::ToString() const {
  return fmt::format("provision fail={:.2f} lost_answer={:.2f} slow={:.2f}", fail, lost_answer, slow);
}

// The `local` and `static` drivers of the simulated cloud.
class SimDriver final : public hosts::HostDriver {
 public:
  explicit SimDriver(SimCloud* cloud) : c_(cloud) {}
  std::string name() const override { return "sim"; }

  Result<hosts::HostSpec> Provision(const hosts::HostSpec& spec) override {
    std::lock_guard<std::mutex> g(c_->mu_);
    if (!c_->caller_alive_) return Status(Code::kUnavailable, "provision: the calling process is dead");
    const ProvisionFaultRates& r = c_->provision_rates_;
    bool calm = c_->calm_;
    if (!calm && c_->rng_.Chance(r.slow)) c_->clock_->AdvanceBy(c_->rng_.Range(1, 40) * kS);
    if (!calm && c_->rng_.Chance(r.fail)) {
      ++c_->counters_.provision_faults;
      return Status(Code::kUnavailable, "host " + spec.name + ": the provisioner failed (simulated)");
    }
    auto it = c_->hosts_.find(spec.name);
    if (it == c_->hosts_.end() || it->second.docker->gone()) {
      if (it != c_->hosts_.end()) c_->graveyard_.push_back(std::move(it->second.docker));
      SimCloud::Host h{"local", std::make_unique<SimDocker>(c_->clock_, c_->rng_.Split(c_->hosts_.size() + 100),
                                                            c_->docker_rates_)};
      if (calm) h.docker->Calm();
      c_->hosts_[spec.name] = std::move(h);
      ++c_->counters_.provisions;
    }
    if (!calm && c_->rng_.Chance(r.lost_answer)) {
      ++c_->counters_.provision_faults;
      return Status(Code::kUnknownOutcome, "host " + spec.name + ": the provisioner's answer was lost (simulated)");
    }
    hosts::HostSpec made = spec;
    made.endpoint = SimCloud::Endpoint(spec.name);
    return made;
  }

  Status Deprovision(const hosts::HostSpec& spec) override {
    std::lock_guard<std::mutex> g(c_->mu_);
    if (!c_->caller_alive_) return Status(Code::kUnavailable, "deprovision: the calling process is dead");
    if (!c_->calm_ && c_->rng_.Chance(c_->provision_rates_.fail / 2)) {
      ++c_->counters_.provision_faults;
      return Status(Code::kUnavailable, "host " + spec.name + ": the deprovisioner failed (simulated)");
    }
    auto it = c_->hosts_.find(spec.name);
    if (it == c_->hosts_.end() || it->second.docker->gone()) return Status::Ok();
    size_t held = 0;
    for (const auto& ctr : it->second.docker->Containers())
      if (!docker::LabelValue(ctr.labels, workflows::kLabelApp).empty()) ++held;
    if (held > 0 && c_->violation_.empty())
      c_->violation_ = fmt::format("host {} was deprovisioned while it held {} container(s) of Berth's "
                                   "(Clocker #288)", spec.name, held);
    it->second.docker->Gone();
    ++c_->counters_.deprovisions;
    return Status::Ok();
  }

  Result<hosts::HostFacts> Describe(const hosts::HostSpec& spec) override {
    SimDocker* d = c_->Find(spec.name);
    if (!d) return Status(Code::kUnavailable, "host " + spec.name + ": no Docker engine answers at " + spec.endpoint);
    auto v = d->Version();
    if (!v.ok()) return Status(v.status().code() == Code::kUnavailable ? Code::kUnavailable : Code::kFailed,
                               "host " + spec.name + ": " + v.status().message());
    auto info = d->Info();
    if (!info.ok()) return info.status();
    return hosts::HostFacts{v->version, info->name, info->cpus, info->memory};
  }

 private:
  SimCloud* c_;
};

SimCloud::SimCloud(SimClock* clock, Rng rng, DockerFaultRates docker_rates, ProvisionFaultRates provision_rates)
    : clock_(clock), rng_(rng), docker_rates_(docker_rates), provision_rates_(provision_rates) {}

SimDocker* SimCloud::MakeStatic(const std::string& name) {
  std::lock_guard<std::mutex> g(mu_);
  auto& h = hosts_[name];
  if (!h.docker) {
    h.driver = "static";
    h.docker = std::make_unique<SimDocker>(clock_, rng_.Split(hosts_.size() + 100), docker_rates_);
    h.docker->SetCapacity(int64_t(rng_.Range(1, 8)), int64_t(rng_.Range(1, 16)) << 30);
    if (calm_) h.docker->Calm();
  }
  return h.docker.get();
}

SimDocker* SimCloud::Find(const std::string& name) const {
  std::lock_guard<std::mutex> g(mu_);
  auto it = hosts_.find(name);
  return it == hosts_.end() ? nullptr : it->second.docker.get();
}

std::vector<SimCloud::HostView> SimCloud::Hosts() const {
  std::lock_guard<std::mutex> g(mu_);
  std::vector<HostView> out;
  for (const auto& [name, h] : hosts_) out.push_back({name, h.driver, h.docker.get(), h.docker->gone()});
  for (const auto& d : graveyard_) out.push_back({"(earlier)", "local", d.get(), true});
  return out;
}

void SimCloud::Calm() {
  std::lock_guard<std::mutex> g(mu_);
  calm_ = true;
  for (auto& [name, h] : hosts_) h.docker->Calm();
}

void SimCloud::SetCallerAlive(bool alive) {
  std::lock_guard<std::mutex> g(mu_);
  caller_alive_ = alive;
  for (auto& [name, h] : hosts_) h.docker->SetCallerAlive(alive);
}

std::unique_ptr<hosts::HostDriver> SimCloud::Driver() { return std::make_unique<SimDriver>(this); }

SimCloud::Counters SimCloud::counters() const {
  std::lock_guard<std::mutex> g(mu_);
  return counters_;
}

std::string SimCloud::violation() const {
  std::lock_guard<std::mutex> g(mu_);
  return violation_;
}

}  // namespace berth::sim
