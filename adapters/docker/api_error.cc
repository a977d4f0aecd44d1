#include "adapters/docker/api_error.h"

#include <nlohmann/json.hpp>

namespace berth::docker {

std::string EngineMessage(std::string_view body) {
  auto j = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_object() && j.contains("message") && j["message"].is_string()) {
    return j["message"].get<std::string>();
  }
  std::string text(body);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

Status ApiError(long status, std::string_view body, std::string_view what) {
  std::string msg =
      std::string(what) + ": " + EngineMessage(body) + " (HTTP " + std::to_string(status) + ")";
  switch (status) {
    case 404:
      return Status(Code::kNotFound, msg);
    case 409:
      // "removal of container X is already in progress": the engine is doing it (perhaps
      // for a caller that died); asking again shortly is the right answer, not a conflict.
      if (msg.find("already in progress") != std::string::npos)
        return Status(Code::kUnavailable, msg);
      return Status(Code::kConflict, msg);
    default:
      return Status(Code::kFailed, msg);
  }
}

}  // namespace berth::docker
