#include "workflows/blueprint/blueprint.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "workflows/blueprint/compose_reader.h"

namespace berth::workflows {
namespace {

constexpr size_t kFileBytesMax = 16 << 20;  // a Compose file is a few KiB; refuse a mistake

// "<file>: N problems" then every error of this load, one a line.
std::string Summary(const std::string& file, const std::vector<Diagnostic>& diagnostics,
                    size_t first) {
  std::string lines;
  int errors = 0;
  for (size_t i = first; i < diagnostics.size(); ++i) {
    if (diagnostics[i].severity != Diagnostic::kError) continue;
    ++errors;
    lines += "\n" + diagnostics[i].ToString();
  }
  return file + ": " + std::to_string(errors) + (errors == 1 ? " problem" : " problems") + lines;
}

}  // namespace

std::string Diagnostic::ToString() const {
  std::string place = file;
  if (line > 0) place += ":" + std::to_string(line) + ":" + std::to_string(col);
  return (place.empty() ? "" : place + ": ") + (severity == kError ? "error: " : "warning: ") +
         message;
}

bool ValidAppName(const std::string& name) {
  if (name.empty() || name.size() > 63) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '_' && c != '-'))) return false;
  }
  return true;
}

const ServiceDef* Blueprint::FindService(const std::string& name) const {
  for (const ServiceDef& s : services) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

// Longest-path depth by repeated relaxation in file order. A loaded blueprint has no cycles;
// one from JSON might, so depth is capped at the number of services and rounds are bounded.
std::vector<std::vector<std::string>> Blueprint::Levels() const {
  const size_t n = services.size();
  std::vector<size_t> level(n, 0);
  for (size_t round = 0; round <= n; ++round) {
    bool changed = false;
    for (size_t i = 0; i < n; ++i) {
      size_t l = 0;
      for (const std::string& d : services[i].depends_on) {
        const ServiceDef* dep = FindService(d);
        if (dep != nullptr && dep != &services[i]) {
          l = std::max(l, std::min(n, level[dep - services.data()] + 1));
        }
      }
      changed = changed || l != level[i];
      level[i] = l;
    }
    if (!changed) break;
  }
  std::vector<std::vector<std::string>> levels;
  for (size_t l = 0, placed = 0; placed < n; ++l) {
    std::vector<std::string> names;
    for (size_t i = 0; i < n; ++i) {
      if (level[i] == l) names.push_back(services[i].name);
    }
    placed += names.size();
    if (!names.empty()) levels.push_back(std::move(names));
  }
  return levels;
}

Result<Blueprint> ParseBlueprint(const std::string& text, const std::string& file,
                                 const std::string& dir, const LoadOptions& options,
                                 std::vector<Diagnostic>* diagnostics) {
  std::vector<Diagnostic> local;
  std::vector<Diagnostic>* out = diagnostics != nullptr ? diagnostics : &local;
  const size_t first = out->size();
  compose::ComposeReader r(file, dir, out, &options.file_env);
  Blueprint b;
  try {
    b.file = (std::filesystem::path(dir) / std::filesystem::path(file).filename())
                 .lexically_normal()
                 .string();
    compose::ParseComposeFile(r, text, options, &b);
  } catch (const std::exception& e) {  // yaml-cpp or the library; never a crash
    r.Error(compose::Where{}, std::string("internal error while reading: ") + e.what());
  }
  if (r.errors() > 0) return InvalidArgument(Summary(file, *out, first));
  return b;
}

Result<Blueprint> ParseBlueprint(const std::string& text, const std::string& file,
                                 const std::string& dir, const std::string& project,
                                 std::vector<Diagnostic>* diagnostics) {
  LoadOptions o;
  o.project = project;
  return ParseBlueprint(text, file, dir, o, diagnostics);
}

Result<Blueprint> LoadBlueprint(const std::string& path, const LoadOptions& options,
                                std::vector<Diagnostic>* diagnostics) {
  std::vector<Diagnostic> local;
  std::vector<Diagnostic>* out = diagnostics != nullptr ? diagnostics : &local;
  std::string text;
  if (int error = compose::ReadTextFile(path, kFileBytesMax, &text); error != 0) {
    std::string why = std::strerror(error);
    out->push_back({Diagnostic::kError, path, 0, 0, "cannot read: " + why});
    return Status(error == ENOENT ? Code::kNotFound : Code::kIOError,
                  "cannot read " + path + ": " + why);
  }
  std::error_code ec;
  std::filesystem::path absolute = std::filesystem::absolute(path, ec);
  if (ec) absolute = path;
  const std::string dir = absolute.lexically_normal().parent_path().string();
  // The env files: --env-file as given, else the .env beside the file when it exists.
  LoadOptions o = options;
  std::vector<std::string> files = options.env_files;
  bool defaulted = files.empty();
  if (defaulted) files.push_back((std::filesystem::path(dir) / ".env").string());
  for (const std::string& f : files) {
    std::vector<std::pair<std::string, std::optional<std::string>>> vars;
    std::vector<bool> literal;
    bool missing = false;
    std::string why = compose::ReadEnvFile(f, &vars, &literal, &missing);
    if (defaulted && missing) continue;  // no .env: nothing to read
    if (!why.empty()) {
      size_t n = why.rfind("line ", 0) == 0 ? std::strtoul(why.c_str() + 5, nullptr, 10) : 0;
      out->push_back({Diagnostic::kError, f, int(n), n ? 1 : 0, "env file: " + why});
      return InvalidArgument(f + ": 1 problem\n" + out->back().ToString());
    }
    // Values not in single quotes are interpolated, from the process environment and the
    // variables above them, as Compose does (A="${A:-default}").
    const size_t before = out->size();
    compose::ComposeReader env_reader(f, dir, out, &o.file_env);
    for (size_t i = 0; i < vars.size(); ++i) {
      auto& [k, v] = vars[i];
      if (!v) continue;
      std::optional<std::string> value = literal[i] ? v : env_reader.Interpolate(*v, compose::Where{k, 0, 0});
      if (value) o.file_env[k] = *value;
    }
    if (env_reader.errors() > 0) return InvalidArgument(Summary(f, *out, before));
  }
  return ParseBlueprint(text, path, dir, o, diagnostics);
}

Result<Blueprint> LoadBlueprint(const std::string& path, const std::string& project,
                                std::vector<Diagnostic>* diagnostics) {
  LoadOptions o;
  o.project = project;
  return LoadBlueprint(path, o, diagnostics);
}

}  // namespace berth::workflows
