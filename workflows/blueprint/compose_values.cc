// Compose value syntaxes that need no YAML: durations, command strings, port mappings,
// addresses and names. Each parser returns "" or a message saying what is wrong.
#include <arpa/inet.h>

#include <cctype>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <regex>
#include <string>
#include <vector>

#include "workflows/blueprint/compose_reader.h"

namespace berth::workflows::compose {
namespace {

constexpr int64_t kNsPerMs = 1000 * 1000;
constexpr int64_t kDurationNsMax = int64_t{1} << 62;  // ~146 years: far past any timeout

// Go's time.ParseDuration units, which Compose uses.
int64_t UnitNs(const std::string& unit) {
  if (unit == "ns") return 1;
  if (unit == "us" || unit == "\xc2\xb5s" || unit == "\xce\xbcs") return 1000;
  if (unit == "ms") return kNsPerMs;
  if (unit == "s") return 1000 * kNsPerMs;
  if (unit == "m") return 60 * 1000 * kNsPerMs;
  if (unit == "h") return 3600 * 1000 * kNsPerMs;
  return 0;
}

bool IsUnitByte(char c) { return std::isalpha(static_cast<unsigned char>(c)) || (c & 0x80); }

// "80" -> 80 within 1..65535; "" or anything else -> 0.
int PortNumber(const std::string& s) {
  if (s.empty() || s.size() > 5) return 0;
  int v = 0;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return 0;
    v = v * 10 + (c - '0');
  }
  return v >= 1 && v <= 65535 ? v : 0;
}

std::vector<std::string> SplitColons(const std::string& s) {
  std::vector<std::string> parts;
  size_t start = 0;
  for (size_t i = 0; i <= s.size(); ++i) {
    if (i == s.size() || s[i] == ':') {
      parts.push_back(s.substr(start, i - start));
      start = i + 1;
    }
  }
  return parts;
}

}  // namespace

std::string ParseDurationMs(const std::string& s, int64_t* ms) {
  const std::string hint = "'" + s + "' is not a duration (e.g. 10s, 1m30s, 500ms)";
  if (s == "0") {  // Go accepts a bare 0 and no other unitless number
    *ms = 0;
    return "";
  }
  if (s.empty()) return hint;
  if (s[0] == '-') return "'" + s + "': a duration cannot be negative";
  size_t i = s[0] == '+' ? 1 : 0;
  if (i == s.size()) return hint;
  int64_t total_ns = 0;
  while (i < s.size()) {
    int64_t whole = 0, frac = 0, frac_scale = 1;
    size_t digits = 0;
    for (; i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])); ++i, ++digits) {
      if (whole > kDurationNsMax / 10) return "'" + s + "': duration too long";
      whole = whole * 10 + (s[i] - '0');
    }
    if (i < s.size() && s[i] == '.') {
      for (++i; i < s.size() && std::isdigit(static_cast<unsigned char>(s[i])); ++i, ++digits) {
        if (frac_scale < int64_t{1000} * 1000 * 1000) {  // digits past 1 ns do not count
          frac = frac * 10 + (s[i] - '0');
          frac_scale *= 10;
        }
      }
    }
    if (digits == 0) return hint;
    size_t unit_start = i;
    while (i < s.size() && IsUnitByte(s[i])) ++i;
    int64_t unit = UnitNs(s.substr(unit_start, i - unit_start));
    if (unit == 0) return hint;
    if (whole > (kDurationNsMax - total_ns) / unit) return "'" + s + "': duration too long";
    total_ns += whole * unit + frac * unit / frac_scale;
    if (total_ns > kDurationNsMax) return "'" + s + "': duration too long";
  }
  *ms = total_ns / kNsPerMs;
  if (total_ns > 0 && *ms == 0) return "'" + s + "': durations below 1ms are not supported";
  return "";
}

// POSIX shell word splitting without expansion, as Compose's shellwords does it.
std::string SplitCommand(const std::string& s, std::vector<std::string>* words) {
  words->clear();
  std::string cur;
  bool in_word = false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      if (in_word) words->push_back(cur);
      cur.clear();
      in_word = false;
      continue;
    }
    in_word = true;
    if (c == '\\') {
      if (i + 1 < s.size()) cur += s[++i];
    } else if (c == '\'') {
      size_t close = s.find('\'', i + 1);
      if (close == std::string::npos) return "unterminated single quote in '" + s + "'";
      cur += s.substr(i + 1, close - i - 1);
      i = close;
    } else if (c == '"') {
      for (++i;; ++i) {
        if (i >= s.size()) return "unterminated double quote in '" + s + "'";
        if (s[i] == '"') break;
        if (s[i] == '\\' && i + 1 < s.size() &&
            std::string("$`\"\\\n").find(s[i + 1]) != std::string::npos) {
          ++i;
        }
        cur += s[i];
      }
    } else {
      cur += c;
    }
  }
  if (in_word) words->push_back(cur);
  return "";
}

namespace {
// "8000" or "8000-8002": *lo..*hi; false when it is neither.
bool PortRange(const std::string& s, int* lo, int* hi) {
  size_t dash = s.find('-');
  *lo = PortNumber(s.substr(0, dash));
  *hi = dash == std::string::npos ? *lo : PortNumber(s.substr(dash + 1));
  return *lo != 0 && *hi != 0 && *lo <= *hi;
}
}  // namespace

std::string ParsePorts(const std::string& s, std::vector<PortDef>* out) {
  const std::string bad = "'" + s + "' is not a port mapping ([HOST_IP:][HOST_PORT[-END]:]PORT[-END][/PROTO])";
  PortDef port;
  std::string spec = s;
  if (size_t slash = spec.rfind('/'); slash != std::string::npos) {
    port.protocol = spec.substr(slash + 1);
    spec = spec.substr(0, slash);
    if (port.protocol != "tcp" && port.protocol != "udp" && port.protocol != "sctp") {
      return "'" + s + "': protocol must be tcp, udp or sctp";
    }
  }
  std::vector<std::string> parts;
  if (!spec.empty() && spec[0] == '[') {  // [::1]:8080:80
    size_t close = spec.find(']');
    if (close == std::string::npos || spec.compare(close + 1, 1, ":") != 0) return bad;
    port.host_ip = spec.substr(1, close - 1);
    parts = SplitColons(spec.substr(close + 2));
    if (parts.size() != 2) return bad;
  } else {
    parts = SplitColons(spec);
    if (parts.size() == 3) {
      port.host_ip = parts[0];
      parts.erase(parts.begin());
    }
    if (parts.size() > 2) return bad;
  }
  if (!port.host_ip.empty() && !ValidIP(port.host_ip)) {
    return "'" + s + "': '" + port.host_ip + "' is not an IP address";
  }
  const std::string& container = parts.back();
  const std::string host = parts.size() == 2 ? parts[0] : "";
  int c_lo = 0, c_hi = 0, h_lo = 0, h_hi = 0;
  if (!PortRange(container, &c_lo, &c_hi))
    return "'" + s + "': '" + container + "' is not a port (1..65535) or a range of them (LOW-HIGH)";
  if (!host.empty() && !PortRange(host, &h_lo, &h_hi))
    return "'" + s + "': '" + host + "' is not a port (1..65535) or a range of them (LOW-HIGH)";
  int n = c_hi - c_lo + 1;
  // Each published port is a docker-proxy process and an iptables rule on the host.
  constexpr int kRangeMax = 1024;
  if (n > kRangeMax)
    return "'" + s + "': a range of " + std::to_string(n) + " ports; at most " +
           std::to_string(kRangeMax) + " per entry";
  if (n > 1 && !host.empty() && h_hi - h_lo + 1 != n)
    return "'" + s + "': the host range " + host + " and the container range " + container +
           " differ in length (Compose maps them port by port)";
  for (int i = 0; i < n; ++i) {
    PortDef p = port;
    p.container_port = c_lo + i;
    if (n > 1) {
      p.host_port = host.empty() ? 0 : h_lo + i;
    } else {
      p.host_port = h_lo;  // 0 when no host port
      if (h_hi > h_lo) p.host_port_end = h_hi;  // one of the range, the engine's choice
    }
    out->push_back(p);
  }
  return "";
}

size_t InvalidUtf8Offset(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (n == 0 || i + n > s.size()) return i;
    uint32_t cp = n == 1 ? c : c & (0x7f >> n);
    for (size_t k = 1; k < n; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc >> 6) != 2) return i;
      cp = (cp << 6) | (cc & 0x3f);
    }
    static const uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += n;
  }
  return std::string::npos;
}

bool ValidIPv4(const std::string& s) {
  in_addr a;
  return inet_pton(AF_INET, s.c_str(), &a) == 1;
}

bool ValidIP(const std::string& s) {
  in6_addr a6;
  return ValidIPv4(s) || inet_pton(AF_INET6, s.c_str(), &a6) == 1;
}

bool ValidCidr4(const std::string& s) {
  size_t slash = s.find('/');
  if (slash == std::string::npos || !ValidIPv4(s.substr(0, slash))) return false;
  std::string bits = s.substr(slash + 1);
  if (bits.empty() || bits.size() > 2) return false;
  for (char c : bits) {
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  }
  return std::stoi(bits) <= 32;
}

bool ValidObjectName(const std::string& s) {
  if (s.empty() || !std::isalnum(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.' && c != '-') {
      return false;
    }
  }
  return true;
}

bool ValidImageReference(const std::string& s) {
  // The grammar of distribution/reference, as one regular expression.
  static const std::regex kReference(
      R"(^((([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(\.([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[0-9a-fA-F:]+\])(:[0-9]+)?/)?)"
      R"([a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*)"
      R"((:[\w][\w.-]{0,127})?(@[A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,})?$)");
  return s.size() <= 4096 && std::regex_match(s, kReference);
}

std::string AppNameFromDirectory(const std::string& dir) {
  std::filesystem::path p = std::filesystem::path(dir).lexically_normal();
  std::string base = p.filename().string();
  if (base.empty()) base = p.parent_path().filename().string();  // "/srv/shop/"
  std::string name;
  for (char c : base) {
    char l = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    bool keep = (l >= 'a' && l <= 'z') || (l >= '0' && l <= '9') || l == '_' || l == '-';
    if (keep && !(name.empty() && (l == '_' || l == '-'))) name += l;
  }
  return name;
}

}  // namespace berth::workflows::compose

namespace berth::workflows {

std::optional<int64_t> ParseByteSize(const std::string& s) {
  size_t n = 0;
  while (n < s.size() && (std::isdigit(static_cast<unsigned char>(s[n])) || s[n] == '.')) ++n;
  std::string unit;
  for (size_t i = n; i < s.size(); ++i) unit += char(std::tolower(static_cast<unsigned char>(s[i])));
  static const std::map<std::string, double> kUnits = {
      {"", 1},          {"b", 1},           {"k", 1024.0},     {"kb", 1024.0},
      {"m", 1048576.0}, {"mb", 1048576.0},  {"g", 1073741824.0}, {"gb", 1073741824.0}};
  auto u = kUnits.find(unit);
  double v = n == 0 ? -1 : std::strtod(s.substr(0, n).c_str(), nullptr);
  if (u == kUnits.end() || v < 0 || v * u->second > 9.0e18) return std::nullopt;
  return static_cast<int64_t>(v * u->second);
}

}  // namespace berth::workflows
