// BERTH_CHECK: an invariant that stays on in every build (release included), as TigerBeetle
// keeps its assertions in production. A failed check is a programmer error: it prints what
// failed and where, then aborts (a core dump and a loud crash, never a recorded "bad input").
// Environment errors (a full disk, an unreachable engine, bad input) are Status values,
// never checks.
#pragma once

#include <cstdio>
#include <cstdlib>

namespace berth::internal {
[[noreturn]] inline void CheckFailed(const char* expr, const char* file, int line,
                                     const char* msg) {
  std::fprintf(stderr, "berth: invariant violated at %s:%d: %s%s%s\n", file, line, expr,
               msg[0] ? ": " : "", msg);
  std::fflush(stderr);
  std::abort();
}
}  // namespace berth::internal

#define BERTH_CHECK(cond)                                                         \
  do {                                                                            \
    if (!(cond)) [[unlikely]]                                                     \
      ::berth::internal::CheckFailed(#cond, __FILE__, __LINE__, "");              \
  } while (0)
#define BERTH_CHECK_MSG(cond, msg)                                                \
  do {                                                                            \
    if (!(cond)) [[unlikely]]                                                     \
      ::berth::internal::CheckFailed(#cond, __FILE__, __LINE__, (msg));           \
  } while (0)
