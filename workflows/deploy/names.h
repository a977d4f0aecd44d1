// Names and labels of everything Berth makes in Docker for an app, in one place.
//
// Rule 4 of DESIGN.md: whatever Berth creates carries berth.app, berth.service,
// berth.workflow and berth.key (the idempotency key of the step that made it), so a step in
// doubt after a crash finds its own work by label, and `berth ps` / `berth down` find an
// app's containers with the engine's own listing.
#pragma once

#include <string>

namespace berth::workflows {

inline constexpr const char* kLabelApp = "berth.app";
inline constexpr const char* kLabelService = "berth.service";
inline constexpr const char* kLabelWorkflow = "berth.workflow";
inline constexpr const char* kLabelKey = "berth.key";
inline constexpr const char* kLabelIndex = "berth.index";    // replica number, 1-based
inline constexpr const char* kLabelConfig = "berth.config";  // ServiceConfigHash
inline constexpr const char* kLabelLevel = "berth.level";    // depends_on depth: down order
inline constexpr const char* kLabelStopTimeout = "berth.stop-timeout";  // seconds
inline constexpr const char* kLabelHost = "berth.host";
inline constexpr const char* kLabelCpus = "berth.cpus";      // reserved CPUs (placement)
inline constexpr const char* kLabelMemory = "berth.memory";  // reserved memory, bytes
inline constexpr const char* kLabelRole = "berth.role";  // "install" on install containers
inline constexpr const char* kLabelRestart = "berth.restart";  // Compose `restart:` (restart.h)
inline constexpr const char* kLabelCacheKey = "berth.cache.key";  // on committed images
inline constexpr const char* kLabelContextHash = "berth.context";  // on built images

// The host name of the engine DOCKER_HOST names: the cloud while no host is configured.
inline constexpr const char* kLocalHost = "local";

inline std::string ContainerName(const std::string& app, const std::string& service, int n) {
  return app + "-" + service + "-" + std::to_string(n);
}
inline std::string CacheRepo(const std::string& service) { return "berth-cache/" + service; }
inline std::string BuildRepo(const std::string& app, const std::string& service) {
  return "berth-build/" + app + "-" + service;
}

// Audit subjects (the log's subject index).
inline std::string AppSubject(const std::string& app) { return "app:" + app; }
// The exclusive key of deploys and undeploys of an app: one at a time (docs/deploy.md).
inline std::string AppKey(const std::string& app) { return "app:" + app; }
inline std::string ServiceSubject(const std::string& app, const std::string& service) {
  return "service:" + app + "/" + service;
}
inline std::string ContainerSubject(const std::string& name) { return "container:" + name; }
inline std::string ImageSubject(const std::string& ref) { return "image:" + ref; }
inline std::string NetworkSubject(const std::string& name) { return "network:" + name; }

}  // namespace berth::workflows
