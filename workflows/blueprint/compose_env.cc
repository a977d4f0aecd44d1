// Env files as Compose reads them: the `.env` next to the Compose file (or --env-file), which
// feeds interpolation, and a service's `env_file`, which feeds its environment.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "workflows/blueprint/compose_reader.h"

namespace berth::workflows::compose {
namespace {

constexpr size_t kEnvFileBytesMax = 1 << 20;  // a few KiB in practice; refuse a mistake

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r'; }

std::string Trim(const std::string& s) {
  size_t b = 0, e = s.size();
  while (b < e && IsSpace(s[b])) ++b;
  while (e > b && IsSpace(s[e - 1])) --e;
  return s.substr(b, e - b);
}

bool ValidEnvName(const std::string& k) {
  if (k.empty()) return false;
  for (char c : k) {
    if (c == '=' || c == ' ' || c == '\t' || c == '\0') return false;
  }
  return true;
}

}  // namespace

std::string ParseEnvFile(const std::string& text,
                         std::vector<std::pair<std::string, std::optional<std::string>>>* out,
                         std::vector<bool>* literal) {
  size_t pos = 0;
  for (int line_no = 1; pos <= text.size(); ++line_no) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = Trim(text.substr(pos, end - pos));
    pos = end + 1;
    if (line.empty() || line[0] == '#') continue;
    if (line.rfind("export ", 0) == 0) line = Trim(line.substr(7));
    size_t eq = line.find('=');
    std::string key = Trim(line.substr(0, eq));
    if (!ValidEnvName(key))
      return "line " + std::to_string(line_no) + ": '" + key + "' is not a variable name";
    if (eq == std::string::npos) {
      out->emplace_back(key, std::nullopt);
      if (literal != nullptr) literal->push_back(false);
      continue;
    }
    std::string raw = Trim(line.substr(eq + 1)), value;
    if (!raw.empty() && (raw[0] == '\'' || raw[0] == '"')) {
      char q = raw[0];
      size_t i = 1;
      bool closed = false;
      for (; i < raw.size(); ++i) {
        char c = raw[i];
        if (c == q) {
          closed = true;
          break;
        }
        if (q == '"' && c == '\\' && i + 1 < raw.size()) {
          char n = raw[++i];
          value += n == 'n' ? '\n' : n == 't' ? '\t' : n;
          continue;
        }
        value += c;
      }
      if (!closed)
        return "line " + std::to_string(line_no) + ": the value of " + key +
               " opens a quote it does not close";
      std::string rest = Trim(raw.substr(i + 1));
      if (!rest.empty() && rest[0] != '#')
        return "line " + std::to_string(line_no) + ": text after the quoted value of " + key;
    } else {
      size_t hash = raw.find(" #");
      value = Trim(hash == std::string::npos ? raw : raw.substr(0, hash));
    }
    out->emplace_back(key, value);
    if (literal != nullptr) literal->push_back(!raw.empty() && raw[0] == '\'');
  }
  return "";
}

int ReadTextFile(const std::string& path, size_t max_bytes, std::string* text) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) return errno;
  char buf[1 << 16];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0 && text->size() <= max_bytes) text->append(buf, n);
  int error = std::ferror(f) ? errno : text->size() > max_bytes ? EFBIG : 0;
  std::fclose(f);
  return error;
}

std::string ReadEnvFile(const std::string& path,
                        std::vector<std::pair<std::string, std::optional<std::string>>>* out,
                        std::vector<bool>* literal, bool* missing) {
  std::string text;
  int error = ReadTextFile(path, kEnvFileBytesMax, &text);
  if (missing != nullptr) *missing = error == ENOENT;
  if (error == EFBIG) return "larger than 1 MiB";
  if (error != 0) return std::strerror(error);
  if (text.find('\0') != std::string::npos) return "holds a NUL byte (not a text file)";
  return ParseEnvFile(text, out, literal);
}

}  // namespace berth::workflows::compose
