// ComposeCompatTest: Compose files written to a scratch folder and loaded with
// LoadBlueprint, as `berth up` loads them. Shared by the blueprint tests of Compose keys.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tests/scratch_dir.h"
#include "workflows/blueprint/blueprint.h"

namespace berth::workflows {

using Vars = std::vector<std::pair<std::string, std::optional<std::string>>>;

inline void Write(const std::filesystem::path& p, const std::string& text) {
  std::ofstream(p) << text;
}

inline std::string AllErrors(const std::vector<Diagnostic>& d) {
  std::string all;
  for (const Diagnostic& x : d)
    if (x.severity == Diagnostic::kError) all += x.ToString() + "\n";
  return all;
}

class ComposeCompatTest : public ::testing::Test {
 protected:
  void SetUp() override {
    unsetenv("BERTH_CC_TAG");
    unsetenv("BERTH_CC_MODE");
    unsetenv("COMPOSE_PROFILES");
    std::filesystem::create_directories(dir_.path());
  }
  Result<Blueprint> Load(const std::string& yaml, LoadOptions o = {}) {
    Write(dir_.path() / "compose.yaml", yaml);
    if (o.project.empty()) o.project = "cc";
    diags_.clear();
    return LoadBlueprint((dir_.path() / "compose.yaml").string(), o, &diags_);
  }
  // Loads `yaml` (with `o`), which must be refused with a message containing `part`.
  void ExpectRefused(const std::string& yaml, const std::string& part, LoadOptions o = {}) {
    auto b = Load(yaml, std::move(o));
    ASSERT_FALSE(b.ok()) << "accepted:\n" << yaml;
    EXPECT_NE(b.status().message().find(part), std::string::npos) << b.status().message();
  }
  testing::ScratchDir dir_{"compose-compat"};
  std::vector<Diagnostic> diags_;
};

}  // namespace berth::workflows
