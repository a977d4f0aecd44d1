// ServiceParse: the state of one service's parse, shared by the key parsers of
// compose_service.cc and compose_service_keys.cc. Private to workflows/blueprint/.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "workflows/blueprint/compose_reader.h"

namespace berth::workflows::compose {

struct ServiceParse {
  ComposeReader& r;
  const std::string& app;
  const std::set<std::string>& networks;
  const std::set<std::string>& volumes;
  ServiceDef& def;
  std::vector<Where>& depends_where;
  std::map<std::string, std::string> env_file;  // below `environment`, merged at the end
  std::optional<int> scale;  // `scale`, checked against deploy.replicas at the end
  Where scale_where, replicas_where, network_mode_where;
};

// The keys Compose files use that Berth once refused (compose_service_keys.cc).
void EnvFile(ServiceParse& p, const Entry& e);
void Links(ServiceParse& p, const Entry& e);
void VolumesFrom(ServiceParse& p, const Entry& e);
void NetworkMode(ServiceParse& p, const Entry& e);
void Platform(ServiceParse& p, const Entry& e);
void PullPolicy(ServiceParse& p, const Entry& e);
void ContainerName(ServiceParse& p, const Entry& e);
void Profiles(ServiceParse& p, const Entry& e);
void Scale(ServiceParse& p, const Entry& e);
// deploy.resources (called by the `deploy` key's parser).
void Resources(ServiceParse& p, const Entry& e);
void FileRefs(ServiceParse& p, const Entry& e);  // a service's `configs` / `secrets` (compose_files.cc)
// The checks and merges that need the whole service: env_file under environment, scale
// against deploy.replicas, network_mode against networks and links, pull_policy: build.
void FinishService(ServiceParse& p, const Entry& service);

}  // namespace berth::workflows::compose
