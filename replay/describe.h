// Human-readable one-line summaries of events, for `berth history` and `berth audit`.
#pragma once

#include <string>

#include "eventlog/event.h"

namespace berth::replay {

// e.g. "step-2 (synthetic.effect) attempt 1", "completed: 5 steps". Unknown types: "".
std::string Describe(const eventlog::Event& e);

}  // namespace berth::replay
