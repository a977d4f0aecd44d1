// berth config: a Compose file parsed, interpolated and validated without an engine, printed
// as the blueprint a deploy would record (like `docker-compose config`).
#include <yaml-cpp/yaml.h>

#include <iostream>
#include <nlohmann/json.hpp>

#include "tools/berth/apps.h"
#include "workflows/blueprint/blueprint.h"

namespace berth::tool {
namespace {

namespace wf = berth::workflows;
using json = nlohmann::json;

void Emit(YAML::Emitter& out, const json& j) {
  if ((j.is_object() || j.is_array()) && j.empty()) out << YAML::Flow;
  if (j.is_object()) {
    out << YAML::BeginMap;
    for (auto it = j.begin(); it != j.end(); ++it) {
      out << YAML::Key << it.key() << YAML::Value;
      Emit(out, it.value());
    }
    out << YAML::EndMap;
  } else if (j.is_array()) {
    out << YAML::BeginSeq;
    for (const json& v : j) Emit(out, v);
    out << YAML::EndSeq;
  } else if (j.is_string()) {
    out << YAML::DoubleQuoted << j.get<std::string>();
  } else if (j.is_null()) {
    out << YAML::Null;
  } else {
    out << j.dump();  // numbers and booleans as JSON writes them, which YAML reads alike
  }
}

}  // namespace

int Config(const Globals& g, const ConfigArgs& a) {
  wf::Blueprint b;
  if (int rc = LoadOrExplain(a, &b); rc != 0) return rc;
  if (a.quiet) return 0;
  json j = wf::ToJson(b);
  if (g.output == Output::kJson) {
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  YAML::Emitter out;
  Emit(out, j);
  std::cout << out.c_str() << "\n";
  return 0;
}

}  // namespace berth::tool
