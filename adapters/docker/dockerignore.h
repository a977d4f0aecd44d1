// DockerIgnore: the rules of a build context's `.dockerignore`, as `docker build` applies
// them (moby/patternmatcher): one pattern a line; `#` lines and blank lines skipped; a
// leading `!` makes an exception; each pattern is cleaned like a path (leading `/` and `./`
// dropped); `*` and `?` match within one path segment, `**` across any number of them,
// `[...]` a character class; a pattern that matches a directory excludes what is in it; the
// last pattern that matches a path (or one of its parent directories) decides.
#pragma once

#include <regex>
#include <string>
#include <vector>

namespace berth::docker {

class DockerIgnore {
 public:
  // Parses the file's text; `error` (optional) gets the first pattern that cannot be read.
  static DockerIgnore Parse(const std::string& text, std::string* error = nullptr);
  // Whether `path` (relative to the context, "/"-separated) is left out of the context.
  bool Excluded(const std::string& path) const;
  bool empty() const { return rules_.empty(); }
  // Whether any rule is an exception (`!`): then an excluded directory may still hold paths
  // that are sent, and must be walked.
  bool has_exceptions() const;

 private:
  struct Rule {
    std::regex re;
    bool exception = false;
  };
  std::vector<Rule> rules_;
};

}  // namespace berth::docker
