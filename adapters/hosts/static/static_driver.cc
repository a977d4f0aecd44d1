#include "adapters/hosts/static/static_driver.h"

namespace berth::hosts {
namespace {

class StaticDriver final : public HostDriver {
 public:
  std::string name() const override { return "static"; }

  Result<HostSpec> Provision(const HostSpec& spec) override {
    auto facts = Describe(spec);
    if (!facts.ok()) return facts.status();
    return spec;
  }

  Status Deprovision(const HostSpec&) override { return Status::Ok(); }

  Result<HostFacts> Describe(const HostSpec& spec) override {
    docker::EngineClientOptions o;
    o.call_timeout_ms = 10'000;  // a host being added or checked: say so soon
    auto client = ClientFor(spec, o);
    if (!client.ok()) return client.status();
    auto v = (*client)->Version();
    if (!v.ok())
      return Status(v.status().code() == Code::kUnavailable ? Code::kUnavailable : Code::kFailed,
                    "host " + spec.name + ": no Docker engine answers at " + spec.endpoint + ": " +
                        v.status().message() +
                        " (check the endpoint and, for tcp+TLS, the CA and client certificate)");
    auto info = (*client)->Info();
    if (!info.ok())
      return Status(info.status().code(), "host " + spec.name + " at " + spec.endpoint + ": " +
                                              info.status().message());
    HostFacts f;
    f.engine_version = v->version;
    f.engine_name = info->name;
    f.cpus = info->cpus;
    f.memory = info->memory;
    return f;
  }
};

}  // namespace

std::unique_ptr<HostDriver> MakeStaticDriver() { return std::make_unique<StaticDriver>(); }

}  // namespace berth::hosts
