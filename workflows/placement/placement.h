// Placement: which host of the cloud a new container goes to, chosen by a chain of
// strategies (Clocker's model): the cloud's default chain, then the app's
// `x-berth.placement`, then the service's, appended. Each strategy filters the hosts the
// ones before it left, orders them, or both; the first host left is chosen.
//
// Strategies (a chain entry is a name, or a one-key map for those that take an argument):
//   orders:  depth-first (the order hosts were added: fill one before the next; the default),
//            breadth-first (fewest containers of this service first), least-containers
//            (fewest containers in all), random (a hash of container and host: stable),
//            lowest-cpu (least reserved CPU share), binpack (Nomad: fullest reservations
//            first), spread (Nomad: emptiest reservations first)
//   filters: {max-containers: N}, {max-cpu: F} (reserved CPU share after placing <= F),
//            {hostname: REGEX}, {labels: {K: V, ...}} (V "*": any value),
//            {affinity: RULE | [RULE...]} with RULE "[NOT] TYPE|SERVICE|NAME X|APPLICATION [X]|EMPTY",
//            {constraint: "ATTR OP VALUE"} (ATTR name|label.K|cpus|memory|containers;
//            OP == != < <= > >= regexp), distinct-hosts (no other container of the service),
//            group | {group: {exclusive: BOOL}} (Clocker's: the replicas of a service share
//            one host, the app's other services are kept off it; exclusive: a group's
//            first replica takes only an empty host)
//   always:  a cordoned host is rejected ("cordon"), and one without the CPU or memory the
//            service reserves (Compose deploy.resources.reservations) ("capacity").
// Later orders win; earlier ones break their ties (a stable sort per strategy, as Clocker
// passed the list along).
//
// Cost: the hosts are walked from a starting point (0 when the primary order is
// depth-first or the cloud has at most 64 hosts; else a hash of the container) until K hosts pass every filter, K = every host for clouds
// of up to 64 hosts, else ceil(log2 n) + 2, as Nomad's scheduler limits its candidates: the
// best of K is chosen. A decision costs O(K + hosts rejected before K passed); when no host
// passes, every host is examined and each rejection is named. A chain with `group` also
// looks once over every host for the one its service is on (O(n) per decision: the group's
// host may lie outside the K hosts walked).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "eventlog/status.h"

namespace berth::placement {

struct Host {
  std::string name;
  std::map<std::string, std::string> labels;
  bool cordoned = false;
  double cpus = 0;      // capacity; 0: unknown (capacity filters pass)
  int64_t memory = 0;   // bytes; 0: unknown
  int64_t containers = 0;  // every container of Berth's on it
  double cpus_reserved = 0;
  int64_t memory_reserved = 0;
  // For affinity and breadth-first: what it holds, counted by app and by "app/service",
  // and the container names.
  std::map<std::string, int> apps, services;
  std::set<std::string> names;
  // Not placement's: the registry the host's engine shares images through ("" none), carried
  // with the host for the deploy's image steps.
  std::string registry;
};

struct Request {
  std::string app, service, container;
  double cpus = 0;     // reserved by the service (deploy.resources.reservations)
  int64_t memory = 0;
  // For group: the host that holds a container of the service already ("" none). Place
  // fills it in when the chain has a group strategy; callers leave it empty.
  std::string group_host;
};

struct Rejection {
  std::string host, strategy, reason;
};

struct Decision {
  std::string host;
  double score = 0;        // the primary order's key for the chosen host (lower is better)
  size_t examined = 0, candidates = 0;
  std::vector<Rejection> rejected;  // of the hosts examined, at most kMaxRejections kept
  size_t rejected_total = 0;
  nlohmann::json ToJson() const;
};
inline constexpr size_t kMaxRejections = 50;

class Strategy {
 public:
  virtual ~Strategy() = default;
  virtual std::string name() const = 0;
  // Filters: false with `why` when the host is rejected.
  virtual bool Admit(const Host& h, const Request& r, std::string* why) const { return true; }
  // Orders: a key, lower first. Filters return nothing.
  virtual bool orders() const { return false; }
  virtual double Key(const Host& h, const Request& r, size_t index) const { return 0; }
  // True when Admit reads Request::group_host.
  virtual bool groups() const { return false; }
};

class Chain {
 public:
  // Parses a chain spec: a JSON array of entries (see the file comment). The message names
  // the entry (its position) and what is wrong: an unknown strategy lists the known ones,
  // a bad regex says why.
  static Result<Chain> Parse(const nlohmann::json& spec);
  Chain() = default;
  Chain(Chain&&) = default;
  Chain& operator=(Chain&&) = default;
  // This chain followed by `more` (the app's after the cloud's, the service's after both).
  void Append(Chain&& more);
  bool empty() const { return strategies_.empty(); }
  std::vector<std::string> Names() const;

  // kFailed when no host is left: the message says which strategy rejected which host.
  Result<Decision> Place(const std::vector<Host>& hosts, const Request& r) const;

 private:
  std::vector<std::shared_ptr<const Strategy>> strategies_;
};

// The names Parse knows, for help and messages.
std::vector<std::string> StrategyNames();

}  // namespace berth::placement
