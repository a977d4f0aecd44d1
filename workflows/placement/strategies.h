// Internal to workflows/placement: the strategy makers Chain (placement.cc) uses, and the
// helpers both share. Not part of placement's interface (placement.h).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "workflows/placement/placement.h"

namespace berth::placement::internal {

uint64_t Fnv(const std::string& a, const std::string& b = "");  // FNV-1a over a then b
int Count(const std::map<std::string, int>& m, const std::string& k);  // 0 when absent
std::string ServiceKey(const Request& r);  // "app/service"
// An order by name (depth-first, breadth-first, ...); nullptr when `n` names none.
std::shared_ptr<Strategy> MakeOrder(const std::string& n);
// The filters every chain applies.
std::shared_ptr<Strategy> Cordon();
std::shared_ptr<Strategy> Capacity();
// One chain entry: a name (`arg` null) or a one-key map's key and value. The message says
// what is wrong (an unknown name lists the known ones).
Result<std::shared_ptr<Strategy>> MakeEntry(const std::string& n, const nlohmann::json* arg);

}  // namespace berth::placement::internal
