// Tolerant readers for Engine API JSON: the engine writes null for empty maps and lists and
// omits fields older versions lack, so every read has a default and none throws.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "eventlog/status.h"

namespace berth::docker {

using json = nlohmann::json;

// Parses an answer body; kFailed naming `what` when it is not JSON.
inline Result<json> ParseJson(std::string_view body, std::string_view what) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) {
    return Failed(std::string(what) + ": engine answered with something that is not JSON: " +
                  std::string(body.substr(0, 200)));
  }
  return j;
}

// j[key] when j is an object holding key, else null.
inline const json& Field(const json& j, std::string_view key) {
  static const json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

inline std::string StringField(const json& j, std::string_view key) {
  const json& v = Field(j, key);
  return v.is_string() ? v.get<std::string>() : std::string();
}

inline int64_t IntField(const json& j, std::string_view key) {
  const json& v = Field(j, key);
  return v.is_number() ? v.get<int64_t>() : 0;
}

inline bool BoolField(const json& j, std::string_view key) {
  const json& v = Field(j, key);
  return v.is_boolean() && v.get<bool>();
}

inline std::map<std::string, std::string> StringMapField(const json& j, std::string_view key) {
  std::map<std::string, std::string> out;
  const json& v = Field(j, key);
  if (!v.is_object()) return out;
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (it.value().is_string()) out[it.key()] = it.value().get<std::string>();
  }
  return out;
}

inline std::vector<std::string> StringListField(const json& j, std::string_view key) {
  std::vector<std::string> out;
  const json& v = Field(j, key);
  if (!v.is_array()) return out;
  for (const json& e : v) {
    if (e.is_string()) out.push_back(e.get<std::string>());
  }
  return out;
}

}  // namespace berth::docker
