#include "adapters/docker/dockerignore.h"

#include <filesystem>

namespace berth::docker {
namespace {

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r"), e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// A cleaned pattern as a regular expression over the whole relative path.
std::string ToRegex(const std::string& p) {
  std::string re;
  for (size_t i = 0; i < p.size(); ++i) {
    char c = p[i];
    if (c == '*' && i + 1 < p.size() && p[i + 1] == '*') {
      bool slash_after = i + 2 < p.size() && p[i + 2] == '/';
      re += slash_after ? "(.*/)?" : ".*";  // "**/" is zero or more directories
      i += slash_after ? 2 : 1;
    } else if (c == '*') {
      re += "[^/]*";
    } else if (c == '?') {
      re += "[^/]";
    } else if (c == '[') {
      size_t close = p.find(']', i + 1);
      if (close == std::string::npos) return "";  // an unclosed class: unreadable
      re += "[" + p.substr(i + 1, close - i - 1) + "]";  // [^...] negates, as in Go
      i = close;
    } else if (c == '\\' && i + 1 < p.size()) {
      re += "\\" + std::string(1, p[++i]);
    } else if (std::string(".+()|{}^$").find(c) != std::string::npos) {
      re += "\\" + std::string(1, c);
    } else {
      re += c;
    }
  }
  return re;
}

}  // namespace

DockerIgnore DockerIgnore::Parse(const std::string& text, std::string* error) {
  DockerIgnore out;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = Trim(text.substr(pos, end - pos));
    pos = end + 1;
    if (line.empty() || line[0] == '#') continue;
    Rule rule;
    if (line[0] == '!') {
      rule.exception = true;
      line = Trim(line.substr(1));
    }
    std::string clean = std::filesystem::path(line).lexically_normal().generic_string();
    while (!clean.empty() && clean[0] == '/') clean.erase(0, 1);
    if (clean.size() > 1 && clean.back() == '/') clean.pop_back();
    if (clean.empty() || clean == ".") continue;
    std::string re = ToRegex(clean);
    try {
      if (re.empty()) throw std::regex_error(std::regex_constants::error_brack);
      rule.re = std::regex(re, std::regex::ECMAScript | std::regex::optimize);
    } catch (const std::regex_error&) {
      if (error != nullptr && error->empty()) *error = "pattern '" + line + "' cannot be read";
      continue;
    }
    out.rules_.push_back(std::move(rule));
  }
  return out;
}

bool DockerIgnore::has_exceptions() const {
  for (const Rule& r : rules_)
    if (r.exception) return true;
  return false;
}

bool DockerIgnore::Excluded(const std::string& path) const {
  bool excluded = false;
  for (const Rule& r : rules_) {
    // The path itself or any parent directory of it.
    bool match = std::regex_match(path, r.re);
    for (size_t slash = path.find('/'); !match && slash != std::string::npos;
         slash = path.find('/', slash + 1))
      match = std::regex_match(path.substr(0, slash), r.re);
    if (match) excluded = !r.exception;
  }
  return excluded;
}

}  // namespace berth::docker
