// The `synthetic` workflow: `steps` activities in sequence, each writing a file named by its
// idempotency key into <data-dir>/synthetic/ whose content counts how many times the side
// effect ran. It exists for crash tests (a count above 1 is a duplicated effect), demos and
// benchmarks.
//
// Input (JSON): {"steps": N (1..100000), "sleep_ms": 0, "fail_rate": 0.0 (0..1),
//                "seed": 0, "noop": false, "children": 0}
// children: first start this many child workflows "<id>/child-<i>" of the same input (minus
// "children") and wait for all of them, then run the own steps.
// fail_rate: each attempt fails (retryably, before its effect) with this probability, chosen
// by a hash of seed, key and attempt, so a run is reproducible. noop: no file, no sleep (for
// `berth bench engine`).
#pragma once

#include <memory>
#include <string>

#include "engine/activity.h"
#include "engine/workflow.h"

namespace berth::workflows {

std::unique_ptr<engine::Workflow> MakeSyntheticWorkflow();
std::unique_ptr<engine::Activity> MakeSyntheticActivity(const std::string& data_dir);

// Path of the effect file for an idempotency key.
std::string SyntheticEffectPath(const std::string& data_dir, const std::string& key);

}  // namespace berth::workflows
