#include "workflows/blueprint/compose_reader.h"

#include <cctype>
#include <cstdlib>
#include <filesystem>

namespace berth::workflows::compose {
namespace {

constexpr int kMergeDepthMax = 8;          // `<<` inside a merged map inside a merged map ...
constexpr int kInterpolationDepthMax = 8;  // ${A:-${B:-${C}}} ...

void SetPlace(const YAML::Node& at, Where* w) {
  YAML::Mark m = at.Mark();
  if (m.is_null()) return;  // keep the parent's place
  w->line = m.line + 1;
  w->col = m.column + 1;
}

std::string TypeName(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a string";
    default:
      return "nothing";
  }
}

bool IsNameStart(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool IsNameChar(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

}  // namespace

Where Where::Key(const std::string& key, const YAML::Node& at) const {
  Where w{path.empty() ? key : path + "." + key, line, col};
  SetPlace(at, &w);
  return w;
}

Where Where::Index(size_t i, const YAML::Node& at) const {
  Where w{path + "[" + std::to_string(i) + "]", line, col};
  SetPlace(at, &w);
  return w;
}

Where At(const std::string& path, const YAML::Node& node) {
  Where w{path};
  SetPlace(node, &w);
  return w;
}

void ComposeReader::Add(Diagnostic::Severity severity, const Where& w, const std::string& message) {
  if (severity == Diagnostic::kError) ++errors_;
  if (out_ == nullptr) return;
  Diagnostic d;
  d.severity = severity;
  d.file = file_;
  d.line = w.line;
  d.col = w.col;
  d.message = w.path.empty() ? message : w.path + ": " + message;
  out_->push_back(std::move(d));
}

void ComposeReader::Error(const Where& w, const std::string& message) {
  Add(Diagnostic::kError, w, message);
}

void ComposeReader::Warn(const Where& w, const std::string& message) {
  Add(Diagnostic::kWarning, w, message);
}

void ComposeReader::OtherKey(const Entry& e, const std::set<std::string>& unsupported) {
  if (e.key.rfind("x-", 0) == 0) return;
  if (unsupported.count(e.key)) {
    Error(e.key_where, "unsupported Compose key '" + e.key + "'");
  } else {
    Warn(e.key_where, "unknown key '" + e.key + "' (ignored)");
  }
}

std::optional<std::vector<Entry>> ComposeReader::Map(const YAML::Node& n, const Where& w,
                                                     bool null_ok) {
  if (null_ok && n.IsNull()) return std::vector<Entry>();
  if (!n.IsMap()) {
    Error(w, "expected a map, found " + TypeName(n));
    return std::nullopt;
  }
  std::set<std::string> seen;
  std::vector<Entry> out;
  MergeInto(n, w, 0, &seen, &out);
  return out;
}

// Explicit keys first (a repeated one is an error), then `<<` merges in order, each adding
// only keys not seen yet, as YAML's merge key specifies.
void ComposeReader::MergeInto(const YAML::Node& n, const Where& w, int depth,
                              std::set<std::string>* seen, std::vector<Entry>* out) {
  std::vector<std::pair<YAML::Node, Where>> merges;
  for (auto it = n.begin(); it != n.end(); ++it) {
    const YAML::Node k = it->first, v = it->second;  // `it->` is a proxy: copy the handles
    if (!k.IsScalar()) {
      Error(w.Key("?", k), "a key must be a string, found " + TypeName(k));
      continue;
    }
    const std::string& key = k.Scalar();
    Where kw = w.Key(key, k);
    if (key == "<<" && k.Tag() == "?") {
      merges.emplace_back(v, kw);
      continue;
    }
    if (!seen->insert(key).second) {
      if (depth == 0) Error(kw, "duplicate key '" + key + "'");
      continue;
    }
    out->push_back({key, v, v.IsNull() ? kw : w.Key(key, v), kw});
  }
  for (const auto& [m, mw] : merges) {
    if (depth >= kMergeDepthMax) {
      Error(mw, "merge keys nested too deeply");
    } else if (m.IsMap()) {
      MergeInto(m, w, depth + 1, seen, out);
    } else if (m.IsSequence()) {
      size_t i = 0;
      for (auto it = m.begin(); it != m.end(); ++it, ++i) {
        if (it->IsMap()) {
          MergeInto(*it, w, depth + 1, seen, out);
        } else {
          Error(mw.Index(i, *it), "'<<' takes a map or a list of maps");
        }
      }
    } else {
      Error(mw, "'<<' takes a map or a list of maps, found " + TypeName(m));
    }
  }
}

std::optional<Items> ComposeReader::List(const YAML::Node& n, const Where& w) {
  if (!n.IsSequence()) {
    Error(w, "expected a list, found " + TypeName(n));
    return std::nullopt;
  }
  Items items;
  size_t i = 0;
  for (auto it = n.begin(); it != n.end(); ++it, ++i) items.emplace_back(*it, w.Index(i, *it));
  return items;
}

std::optional<std::string> ComposeReader::RawString(const YAML::Node& n, const Where& w) {
  if (!n.IsScalar()) {
    Error(w, "expected a string, found " + TypeName(n));
    return std::nullopt;
  }
  return n.Scalar();
}

std::optional<std::string> ComposeReader::String(const YAML::Node& n, const Where& w) {
  std::optional<std::string> raw = RawString(n, w);
  if (!raw) return std::nullopt;
  return Interpolate(*raw, w);
}

std::optional<int64_t> ComposeReader::Integer(const YAML::Node& n, const Where& w, int64_t min,
                                              int64_t max) {
  std::optional<std::string> s = String(n, w);
  if (!s) return std::nullopt;
  size_t i = !s->empty() && ((*s)[0] == '-' || (*s)[0] == '+') ? 1 : 0;
  bool digits = i < s->size() && s->size() - i <= 18;
  for (size_t j = i; digits && j < s->size(); ++j) {
    digits = std::isdigit(static_cast<unsigned char>((*s)[j]));
  }
  if (!digits) {
    Error(w, "'" + *s + "' is not an integer");
    return std::nullopt;
  }
  int64_t v = std::stoll(*s);
  if (v < min || v > max) {
    Error(w, *s + " is out of range " + std::to_string(min) + ".." + std::to_string(max));
    return std::nullopt;
  }
  return v;
}

std::optional<bool> ComposeReader::Bool(const YAML::Node& n, const Where& w) {
  std::optional<std::string> s = String(n, w);
  if (!s) return std::nullopt;
  std::string l;
  for (char c : *s) l += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (l == "true" || l == "yes" || l == "on") return true;
  if (l == "false" || l == "no" || l == "off") return false;
  Error(w, "'" + *s + "' is not true or false");
  return std::nullopt;
}

std::optional<int64_t> ComposeReader::DurationMs(const YAML::Node& n, const Where& w) {
  std::optional<std::string> s = String(n, w);
  if (!s) return std::nullopt;
  int64_t ms = 0;
  if (std::string err = ParseDurationMs(*s, &ms); !err.empty()) {
    Error(w, err);
    return std::nullopt;
  }
  return ms;
}

std::optional<std::vector<std::string>> ComposeReader::Strings(const YAML::Node& n, const Where& w,
                                                               bool one_ok, bool interpolate) {
  auto one = [&](const YAML::Node& v, const Where& at) {
    return interpolate ? String(v, at) : RawString(v, at);
  };
  if (one_ok && n.IsScalar()) {
    std::optional<std::string> s = one(n, w);
    if (!s) return std::nullopt;
    return std::vector<std::string>{*s};
  }
  if (!n.IsSequence()) {
    Error(w, std::string(one_ok ? "expected a string or a list of strings" : "expected a list") +
                 ", found " + TypeName(n));
    return std::nullopt;
  }
  auto items = List(n, w);
  std::vector<std::string> out;
  bool ok = true;
  for (const auto& [item, at] : *items) {
    std::optional<std::string> s = one(item, at);
    if (s) out.push_back(*s);
    ok = ok && s.has_value();
  }
  if (!ok) return std::nullopt;
  return out;
}

std::optional<std::vector<std::string>> ComposeReader::Command(const YAML::Node& n,
                                                               const Where& w) {
  if (!n.IsScalar()) return Strings(n, w, /*one_ok=*/false);
  std::optional<std::string> s = String(n, w);
  if (!s) return std::nullopt;
  std::vector<std::string> words;
  if (std::string err = SplitCommand(*s, &words); !err.empty()) {
    Error(w, err);
    return std::nullopt;
  }
  return words;
}

std::optional<std::map<std::string, std::string>> ComposeReader::KeyValues(const YAML::Node& n,
                                                                           const Where& w,
                                                                           Bare bare) {
  std::map<std::string, std::string> out;
  bool ok = true;
  auto put = [&](const std::string& key, std::optional<std::string> value, const Where& at) {
    if (key.empty()) {
      Error(at, "a key is empty");
      ok = false;
      return;
    }
    if (!value && bare != Bare::kEmpty) value = Lookup(key);
    if (!value && bare == Bare::kFromEnv) {
      Warn(at, key + " is not set in the environment; using an empty value");
    }
    if (value || bare != Bare::kFromEnvOrOmit) out[key] = value.value_or("");
  };
  if (n.IsNull()) return out;
  if (n.IsMap()) {
    for (const Entry& e : Map(n, w).value_or(std::vector<Entry>())) {
      if (e.value.IsNull()) {
        put(e.key, std::nullopt, e.where);
      } else if (std::optional<std::string> v = String(e.value, e.where)) {
        put(e.key, v, e.where);
      } else {
        ok = false;
      }
    }
  } else if (n.IsSequence()) {
    for (const auto& [item, at] : List(n, w).value_or(Items())) {
      std::optional<std::string> s = String(item, at);
      if (!s) {
        ok = false;
        continue;
      }
      size_t eq = s->find('=');
      if (eq == std::string::npos) {
        put(*s, std::nullopt, at);
      } else {
        put(s->substr(0, eq), s->substr(eq + 1), at);
      }
    }
  } else {
    Error(w, "expected a map or a list of KEY=VALUE, found " + TypeName(n));
    return std::nullopt;
  }
  if (!ok) return std::nullopt;
  return out;
}

std::string ComposeReader::AbsolutePath(const std::string& path) const {
  std::filesystem::path p(path);
  if (path == "~" || path.rfind("~/", 0) == 0) {
    const char* home = std::getenv("HOME");
    p = std::filesystem::path(home ? home : "/") / path.substr(std::min<size_t>(2, path.size()));
  } else if (p.is_relative()) {
    p = std::filesystem::path(dir_) / p;
  }
  std::string s = p.lexically_normal().string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

std::optional<std::string> ComposeReader::Interpolate(const std::string& s, const Where& w) {
  return InterpolateDepth(s, w, 0);
}

std::optional<std::string> ComposeReader::InterpolateDepth(const std::string& s, const Where& w,
                                                           int depth) {
  if (s.find('$') == std::string::npos) return s;
  if (depth > kInterpolationDepthMax) {
    Error(w, "'" + s + "': interpolation nested too deeply");
    return std::nullopt;
  }
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    char next = i + 1 < s.size() ? s[i + 1] : '\0';
    if (s[i] != '$') {
      out += s[i];
    } else if (next == '$') {
      out += '$';
      ++i;
    } else if (next == '{') {
      size_t close = i + 2;
      for (int open = 1; close < s.size(); ++close) {
        open += s[close] == '{' ? 1 : s[close] == '}' ? -1 : 0;
        if (open == 0) break;
      }
      if (close >= s.size()) {
        Error(w, "'" + s + "': '${' without a closing '}'");
        return std::nullopt;
      }
      std::optional<std::string> v = Variable(s.substr(i + 2, close - i - 2), w, depth);
      if (!v) return std::nullopt;
      out += *v;
      i = close;
    } else if (IsNameStart(next)) {
      size_t end = i + 1;
      while (end < s.size() && IsNameChar(s[end])) ++end;
      std::optional<std::string> v = Variable(s.substr(i + 1, end - i - 1), w, depth);
      if (!v) return std::nullopt;
      out += *v;
      i = end - 1;
    } else {
      Error(w, "'" + s + "': invalid interpolation (write $$ for a literal $)");
      return std::nullopt;
    }
  }
  return out;
}

// One ${...} body: NAME, then nothing or one of :- - :? ? :+ + and its argument.
std::optional<std::string> ComposeReader::Variable(const std::string& expr, const Where& w,
                                                   int depth) {
  size_t n = 0;
  if (!expr.empty() && IsNameStart(expr[0])) {
    while (n < expr.size() && IsNameChar(expr[n])) ++n;
  }
  std::string name = expr.substr(0, n), op = expr.substr(n, 1);
  if (op == ":") op = expr.substr(n, 2);
  std::string arg = expr.substr(std::min(expr.size(), n + op.size()));
  if (name.empty() || (!op.empty() && op != ":-" && op != "-" && op != ":?" && op != "?" &&
                       op != ":+" && op != "+")) {
    Error(w, "'${" + expr + "}' is not a valid interpolation");
    return std::nullopt;
  }
  std::optional<std::string> env = Lookup(name);
  bool set = env.has_value(), filled = set && !env->empty();
  bool use_value = op.empty() || (op[0] == ':' ? filled : set);
  if (op.empty() && !set && unset_warned_.insert(name).second) {
    Warn(w, "variable " + name + " is not set; using an empty string");
  }
  if (op.empty() || op.back() == '-') {
    if (use_value) return env.value_or("");
    return InterpolateDepth(arg, w, depth + 1);
  }
  if (op.back() == '+') {
    if (!use_value) return std::string();
    return InterpolateDepth(arg, w, depth + 1);
  }
  if (use_value) return *env;
  std::optional<std::string> why = InterpolateDepth(arg, w, depth + 1);
  Error(w, "required variable " + name + " is not set" + (why && !why->empty() ? ": " + *why : ""));
  return std::nullopt;
}

std::optional<std::string> ComposeReader::Lookup(const std::string& name) const {
  if (const char* env = std::getenv(name.c_str())) return std::string(env);
  if (file_env_ != nullptr) {
    if (auto it = file_env_->find(name); it != file_env_->end()) return it->second;
  }
  return std::nullopt;
}

}  // namespace berth::workflows::compose
