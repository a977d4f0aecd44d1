// Bugs the simulator finds that are reported and not fixed yet. A failing seed whose message
// contains `match` is listed under "known_failures" with the bug's id, not silently skipped;
// --strict counts them as failures. Each entry names its bug; remove it when the fix lands.
#pragma once

#include <string>
#include <vector>

namespace berth::sim {

struct KnownBug {
  const char* id;     // short name, used in the JSON
  const char* title;  // what is wrong and where
  const char* match;  // a substring of the checker's message
};

inline const std::vector<KnownBug>& KnownBugs() {
  static const std::vector<KnownBug> bugs = {};
  return bugs;
}

inline const KnownBug* MatchKnown(const std::string& failure) {
  for (const auto& b : KnownBugs())
    if (failure.find(b.match) != std::string::npos) return &b;
  return nullptr;
}

}  // namespace berth::sim
