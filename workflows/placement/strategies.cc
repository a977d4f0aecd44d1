// The strategies of a placement chain (placement.h's file comment lists them): orders,
// filters, and the entry parser that makes one from a chain spec entry. Internal to
// workflows/placement: Chain (placement.cc) is the interface.
#include "workflows/placement/strategies.h"

#include <algorithm>
#include <cmath>
#include <regex>
#include <sstream>

namespace berth::placement::internal {

using json = nlohmann::json;

std::string Num(double v) {
  std::ostringstream o;
  o << v;
  return o.str();
}

uint64_t Fnv(const std::string& a, const std::string& b) {
  uint64_t h = 1469598103934665603ull;
  for (const std::string* s : {&a, &b})
    for (unsigned char c : *s) h = (h ^ c) * 1099511628211ull;
  return h;
}

int Count(const std::map<std::string, int>& m, const std::string& k) {
  auto it = m.find(k);
  return it == m.end() ? 0 : it->second;
}
std::string ServiceKey(const Request& r) { return r.app + "/" + r.service; }

double CpuShare(const Host& h, const Request& r) { return h.cpus > 0 ? (h.cpus_reserved + r.cpus) / h.cpus : 0; }
double MemShare(const Host& h, const Request& r) {
  return h.memory > 0 ? double(h.memory_reserved + r.memory) / double(h.memory) : 0;
}
double Fullness(const Host& h, const Request& r) {
  int dims = (h.cpus > 0) + (h.memory > 0);
  return dims ? (CpuShare(h, r) + MemShare(h, r)) / dims : 0;
}

// ---- orders -------------------------------------------------------------------------------

struct Order : Strategy {
  std::string n;
  std::function<double(const Host&, const Request&, size_t)> key;
  std::string name() const override { return n; }
  bool orders() const override { return true; }
  double Key(const Host& h, const Request& r, size_t i) const override { return key(h, r, i); }
};

std::shared_ptr<Strategy> MakeOrder(const std::string& n) {
  auto o = std::make_shared<Order>();
  o->n = n;
  if (n == "depth-first") o->key = [](const Host&, const Request&, size_t i) { return double(i); };
  else if (n == "breadth-first")
    o->key = [](const Host& h, const Request& r, size_t) { return double(Count(h.services, ServiceKey(r))); };
  else if (n == "least-containers") o->key = [](const Host& h, const Request&, size_t) { return double(h.containers); };
  else if (n == "random")
    o->key = [](const Host& h, const Request& r, size_t) { return double(Fnv(r.container, h.name) >> 11) / double(1ull << 53); };
  else if (n == "lowest-cpu") o->key = [](const Host& h, const Request&, size_t) { return h.cpus > 0 ? h.cpus_reserved / h.cpus : 0; };
  else if (n == "binpack") o->key = [](const Host& h, const Request& r, size_t) { return -Fullness(h, r); };
  else if (n == "spread") o->key = [](const Host& h, const Request& r, size_t) { return Fullness(h, r); };
  else return nullptr;
  return o;
}

// ---- filters ------------------------------------------------------------------------------

struct Filter : Strategy {
  std::string n;
  std::function<bool(const Host&, const Request&, std::string*)> admit;
  std::string name() const override { return n; }
  bool Admit(const Host& h, const Request& r, std::string* why) const override { return admit(h, r, why); }
};

std::shared_ptr<Strategy> MakeFilter(std::string n, std::function<bool(const Host&, const Request&, std::string*)> f) {
  auto s = std::make_shared<Filter>();
  s->n = std::move(n);
  s->admit = std::move(f);
  return s;
}

std::shared_ptr<Strategy> Cordon() {
  return MakeFilter("cordon", [](const Host& h, const Request&, std::string* why) {
    if (!h.cordoned) return true;
    *why = "cordoned (`berth host uncordon " + h.name + "`)";
    return false;
  });
}

std::shared_ptr<Strategy> Capacity() {
  return MakeFilter("capacity", [](const Host& h, const Request& r, std::string* why) {
    if (r.cpus > 0 && h.cpus > 0 && h.cpus - h.cpus_reserved < r.cpus - 1e-9) {
      *why = "needs " + Num(r.cpus) + " CPUs reserved, " + Num(h.cpus - h.cpus_reserved) + " of " + Num(h.cpus) + " free";
      return false;
    }
    if (r.memory > 0 && h.memory > 0 && h.memory - h.memory_reserved < r.memory) {
      *why = "needs " + std::to_string(r.memory >> 20) + " MiB reserved, " +
             std::to_string((h.memory - h.memory_reserved) >> 20) + " MiB free";
      return false;
    }
    return true;
  });
}

struct Affinity {
  bool negate = false;
  std::string kind, arg;  // TYPE, NAME, APPLICATION, EMPTY
  bool Holds(const Host& h, const Request& r) const {
    if (kind == "TYPE") return Count(h.services, ServiceKey(r)) > 0;
    if (kind == "NAME") return h.names.count(arg) > 0;
    if (kind == "APPLICATION") return Count(h.apps, arg.empty() ? r.app : arg) > 0;
    return h.containers == 0;  // EMPTY
  }
  std::string Text() const { return std::string(negate ? "NOT " : "") + kind + (arg.empty() ? "" : " " + arg); }
};

Result<Affinity> ParseAffinity(const std::string& text) {
  std::istringstream in(text);
  std::vector<std::string> w;
  for (std::string t; in >> t;) w.push_back(t);
  Affinity a;
  size_t i = 0;
  if (i < w.size() && w[i] == "NOT") a.negate = true, ++i;
  if (i >= w.size()) return InvalidArgument("affinity rule '" + text + "' names no kind");
  a.kind = w[i++];
  if (a.kind == "SERVICE") a.kind = "TYPE";
  if (a.kind == "ID") a.kind = "NAME";
  if (i < w.size()) a.arg = w[i++];
  if (i < w.size()) return InvalidArgument("affinity rule '" + text + "' has words left over");
  if (a.kind != "TYPE" && a.kind != "NAME" && a.kind != "APPLICATION" && a.kind != "EMPTY")
    return InvalidArgument("affinity rule '" + text + "': use [NOT] TYPE|SERVICE|NAME X|ID X|APPLICATION [X]|EMPTY");
  if (a.kind == "NAME" && a.arg.empty()) return InvalidArgument("affinity rule '" + text + "': NAME needs a container name");
  if ((a.kind == "TYPE" || a.kind == "EMPTY") && !a.arg.empty())
    return InvalidArgument("affinity rule '" + text + "': " + a.kind + " takes no argument");
  return a;
}

Result<std::shared_ptr<Strategy>> MakeConstraint(const std::string& text) {
  std::istringstream in(text);
  std::string attr, op, value;
  in >> attr >> op;
  std::getline(in, value);
  value.erase(0, value.find_first_not_of(' '));
  static const std::set<std::string> ops = {"==", "!=", "<", "<=", ">", ">=", "regexp"};
  if (attr.empty() || !ops.count(op) || value.empty())
    return InvalidArgument("constraint '" + text + "': use \"ATTRIBUTE OP VALUE\" with OP one of == != < <= > >= regexp");
  if (attr != "name" && attr != "cpus" && attr != "memory" && attr != "containers" && attr.rfind("label.", 0) != 0)
    return InvalidArgument("constraint '" + text + "': attribute '" + attr + "' is not name, label.KEY, cpus, memory or containers");
  std::shared_ptr<std::regex> re;
  if (op == "regexp") {
    try {
      re = std::make_shared<std::regex>(value, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      return InvalidArgument("constraint '" + text + "': bad regexp: " + e.what());
    }
  }
  bool numeric = attr == "cpus" || attr == "memory" || attr == "containers";
  double num = 0;
  if (numeric && op != "regexp") {
    char* end = nullptr;
    num = std::strtod(value.c_str(), &end);
    if (!end || *end) return InvalidArgument("constraint '" + text + "': '" + value + "' is not a number");
  }
  return MakeFilter("constraint", [=](const Host& h, const Request&, std::string* why) {
    std::string have;
    double have_num = 0;
    if (attr == "name") have = h.name;
    else if (attr == "cpus") have_num = h.cpus;
    else if (attr == "memory") have_num = double(h.memory);
    else if (attr == "containers") have_num = double(h.containers);
    else {
      auto it = h.labels.find(attr.substr(6));
      have = it == h.labels.end() ? "" : it->second;
    }
    if (numeric) have = Num(have_num);
    bool ok;
    if (op == "regexp") ok = std::regex_search(have, *re);
    else if (!numeric && (op == "==" || op == "!=")) ok = (have == value) == (op == "==");
    else {
      double a = numeric ? have_num : std::strtod(have.c_str(), nullptr), b = numeric ? num : std::strtod(value.c_str(), nullptr);
      ok = op == "==" ? a == b : op == "!=" ? a != b : op == "<" ? a < b : op == "<=" ? a <= b : op == ">" ? a > b : a >= b;
    }
    if (!ok) *why = attr + " is '" + have + "', not " + op + " " + value;
    return ok;
  });
}

// Clocker's GroupPlacementStrategy, with Berth's service as Clocker's parent entity: a
// service's replicas go where the first one is; a service's first replica avoids hosts
// holding the app's other services (each service a host of its own) and, exclusive, any
// host that is not empty.
struct Group : Strategy {
  bool exclusive = false;
  std::string name() const override { return "group"; }
  bool groups() const override { return true; }
  bool Admit(const Host& h, const Request& r, std::string* why) const override {
    if (!r.group_host.empty()) {
      if (h.name == r.group_host) return true;
      *why = "the group " + ServiceKey(r) + " is on " + r.group_host;
      return false;
    }
    if (int n = Count(h.apps, r.app); n > 0) {
      *why = "holds " + std::to_string(n) + " container" + (n == 1 ? "" : "s") + " of " + r.app +
             "'s other services (a group takes a host of its own)";
      return false;
    }
    if (exclusive && h.containers > 0) {
      *why = "holds " + std::to_string(h.containers) + " container" + (h.containers == 1 ? "" : "s") +
             " (an exclusive group starts on an empty host)";
      return false;
    }
    return true;
  }
};

Result<std::shared_ptr<Strategy>> MakeEntry(const std::string& n, const json* arg) {
  auto need = [&](bool ok, const std::string& what) -> Status {
    return ok ? Status::Ok() : InvalidArgument(n + " takes " + what);
  };
  if (!arg) {
    if (auto o = MakeOrder(n)) return o;
    if (n == "group") return std::shared_ptr<Strategy>(std::make_shared<Group>());
    if (n == "distinct-hosts")
      return MakeFilter(n, [](const Host& h, const Request& r, std::string* why) {
        if (Count(h.services, ServiceKey(r)) == 0) return true;
        *why = "holds a container of " + ServiceKey(r) + " already";
        return false;
      });
  }
  if (n == "group") {
    bool ok = arg && arg->is_object() && arg->size() == 1 && arg->contains("exclusive") && (*arg)["exclusive"].is_boolean();
    if (Status s = need(ok, "no argument, or {exclusive: true}"); !s.ok()) return s;
    auto g = std::make_shared<Group>();
    g->exclusive = (*arg)["exclusive"].get<bool>();
    return std::shared_ptr<Strategy>(std::move(g));
  }
  if (n == "max-containers") {
    if (Status s = need(arg && arg->is_number_integer() && arg->get<int64_t>() >= 0, "a count (max-containers: 4)"); !s.ok()) return s;
    int64_t max = arg->get<int64_t>();
    return MakeFilter(n, [max](const Host& h, const Request&, std::string* why) {
      if (h.containers < max) return true;
      *why = "holds " + std::to_string(h.containers) + " containers, at most " + std::to_string(max);
      return false;
    });
  }
  if (n == "max-cpu") {
    if (Status s = need(arg && arg->is_number() && arg->get<double>() > 0, "a share of the host's CPUs (max-cpu: 0.8)"); !s.ok()) return s;
    double max = arg->get<double>();
    return MakeFilter(n, [max](const Host& h, const Request& r, std::string* why) {
      if (h.cpus <= 0 || CpuShare(h, r) <= max + 1e-9) return true;
      *why = "CPU reserved would be " + Num(CpuShare(h, r)) + " of the host, over " + Num(max);
      return false;
    });
  }
  if (n == "hostname") {
    if (Status s = need(arg && arg->is_string(), "a regular expression (hostname: \"^web-\")"); !s.ok()) return s;
    std::string text = arg->get<std::string>();
    std::shared_ptr<std::regex> re;
    try {
      re = std::make_shared<std::regex>(text, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      return InvalidArgument("hostname: bad regular expression '" + text + "': " + e.what());
    }
    return MakeFilter(n, [re, text](const Host& h, const Request&, std::string* why) {
      if (std::regex_search(h.name, *re)) return true;
      *why = "name does not match /" + text + "/";
      return false;
    });
  }
  if (n == "labels") {
    if (Status s = need(arg && arg->is_object() && !arg->empty(), "a map of labels (labels: {zone: a})"); !s.ok()) return s;
    std::map<std::string, std::string> want;
    for (const auto& [k, v] : arg->items()) {
      if (!v.is_string() && !v.is_number() && !v.is_boolean()) return InvalidArgument("labels: " + k + " must be a string");
      want[k] = v.is_string() ? v.get<std::string>() : v.dump();
    }
    return MakeFilter(n, [want](const Host& h, const Request&, std::string* why) {
      for (const auto& [k, v] : want) {
        auto it = h.labels.find(k);
        if (it == h.labels.end()) return *why = "has no label " + k, false;
        if (v != "*" && it->second != v) return *why = "label " + k + "=" + it->second + ", not " + v, false;
      }
      return true;
    });
  }
  if (n == "affinity") {
    std::vector<std::string> texts;
    if (arg && arg->is_string()) texts.push_back(arg->get<std::string>());
    else if (arg && arg->is_array())
      for (const auto& t : *arg) {
        if (!t.is_string()) return InvalidArgument("affinity: each rule is a string");
        texts.push_back(t.get<std::string>());
      }
    else return InvalidArgument("affinity takes a rule or a list of rules (affinity: \"NOT TYPE\")");
    std::vector<Affinity> rules;
    for (const auto& t : texts) {
      auto a = ParseAffinity(t);
      if (!a.ok()) return a.status();
      rules.push_back(*a);
    }
    return MakeFilter(n, [rules](const Host& h, const Request& r, std::string* why) {
      for (const auto& a : rules)
        if (a.Holds(h, r) == a.negate) return *why = "fails affinity " + a.Text(), false;
      return true;
    });
  }
  if (n == "constraint") {
    if (Status s = need(arg && arg->is_string(), "\"ATTRIBUTE OP VALUE\" (constraint: \"label.zone == a\")"); !s.ok()) return s;
    return MakeConstraint(arg->get<std::string>());
  }
  std::string known;
  for (const auto& k : StrategyNames()) known += (known.empty() ? "" : ", ") + k;
  if (arg && MakeOrder(n)) return InvalidArgument(n + " takes no argument (write it as a plain list entry)");
  return InvalidArgument("unknown placement strategy '" + n + "' (known: " + known + ")");
}

}  // namespace berth::placement::internal
