// Helpers of the blueprint tests: a Compose text parsed as shop.yaml in /srv/shop, and its
// diagnostics by severity.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "workflows/blueprint/blueprint.h"

namespace berth::workflows::blueprint_test {

inline Result<Blueprint> Parse(const std::string& yaml, std::vector<Diagnostic>* d = nullptr,
                        const std::string& project = "shop") {
  return ParseBlueprint(yaml, "shop.yaml", "/srv/shop", project, d);
}

// The blueprint of a file that must load.
inline Blueprint Good(const std::string& yaml) {
  Result<Blueprint> b = Parse(yaml);
  EXPECT_TRUE(b.ok()) << b.status().ToString();
  return b.ok() ? b.value() : Blueprint();
}

inline std::vector<Diagnostic> Only(Diagnostic::Severity severity, const std::string& yaml,
                             const std::string& project = "shop") {
  std::vector<Diagnostic> all, some;
  (void)Parse(yaml, &all, project);
  for (const Diagnostic& d : all) {
    if (d.severity == severity) some.push_back(d);
  }
  return some;
}
inline std::vector<Diagnostic> Errors(const std::string& yaml) { return Only(Diagnostic::kError, yaml); }
inline std::vector<Diagnostic> Warnings(const std::string& yaml) {
  return Only(Diagnostic::kWarning, yaml);
}

// The one error a file has, as text ("" when it has none or several).
inline std::string OneError(const std::string& yaml) {
  std::vector<Diagnostic> e = Errors(yaml);
  if (e.size() != 1) {
    std::string all;
    for (const Diagnostic& d : e) all += "\n  " + d.ToString();
    ADD_FAILURE() << e.size() << " errors:" << all;
    return "";
  }
  return e[0].ToString();
}

}  // namespace berth::workflows::blueprint_test
