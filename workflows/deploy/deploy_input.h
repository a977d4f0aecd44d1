// Internal to workflows/deploy: a deploy's input parsed once (per thread and text: Decide
// reads the same input after every append).
#pragma once

#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "workflows/blueprint/blueprint.h"
#include "workflows/placement/placement.h"

namespace berth::workflows::deployment {

using json = nlohmann::json;

struct DeployInput {
  std::string app;
  Blueprint bp;
  bool cache = true;
  std::vector<std::vector<std::string>> levels;
  std::map<std::string, int> level_of;
  std::map<std::string, std::string> config;  // service -> ServiceConfigHash
  std::map<std::string, json> mini;           // service -> one-service blueprint JSON
  // The cloud, as `berth up` recorded it in the input ("cloud": {"hosts": [...]}); absent
  // (every deploy before there were hosts, and any while none is configured): the local
  // engine alone, and no step names a host.
  bool multi = false;
  // "inventory": true (every cloud deploy `berth up` starts now): the hosts are the cloud's
  // as the deploy finds them when it runs (its `hosts` step), not as they were when it was
  // submitted: it may have waited for another deploy of its app, which provisioned a host
  // (found by berth-sim --hosts, seeds 268 and 387: a second replica 2 on a second host).
  bool inventory = false;
  std::vector<placement::Host> hosts;
  // x-berth.cloud: {driver, max_hosts, labels}: a host may be provisioned when none fits.
  std::string provision_driver;
  int64_t max_hosts = 0;  // 0: no limit
  std::map<std::string, std::string> provision_labels;
  std::map<std::string, std::shared_ptr<const placement::Chain>> chain;  // per service
};

// {"app", "blueprint", "cache", "cloud"?}; kInvalidArgument saying what is wrong.
Result<std::shared_ptr<const DeployInput>> ParseDeploy(const std::string& text);
// `in` with its hosts replaced by those of a recorded host.inventory result; kCorruption
// when that result is not one. Cached per thread like ParseDeploy.
Result<std::shared_ptr<const DeployInput>> WithHosts(const std::shared_ptr<const DeployInput>& in,
                                                    const std::string& inventory);

}  // namespace berth::workflows::deployment
