#include "replay/verify.h"

#include <chrono>
#include <unordered_map>

#include "engine/events.h"
#include "engine/workflow_state.h"
#include "eventlog/pipelined_scan.h"
#include "replay/describe.h"

namespace berth::replay {

using namespace berth::engine;

namespace {

std::string CommandText(const Command& c) {
  if (auto* a = std::get_if<ScheduleActivity>(&c)) return "schedule " + a->step + " (" + a->activity + ")";
  if (auto* t = std::get_if<StartTimer>(&c)) return "timer " + t->name;
  if (auto* ch = std::get_if<StartChild>(&c)) return "child " + ch->name + " (" + ch->type + ")";
  if (auto* d = std::get_if<CompleteWorkflow>(&c)) return "complete: " + d->result;
  if (auto* f = std::get_if<FailWorkflow>(&c)) return "fail: " + f->error;
  return "?";
}

// A recorded event that claims to be a decision, decoded once: its kind, the key of the
// command it records ("s:step", "t:timer", "c:child", "e") and its payload.
struct Recorded {
  bool decision = false;
  std::string key;
  ActivityStartedP activity;
  TimerStartedP timer;
  ChildStartedP child;
  EndedP ended;
};

// Retries are the engine's, not Decide's: only an activity's first attempt is a decision.
// Another decision whose payload is undecodable gets the key "?", which matches no command:
// the verifier reports it as nondeterminism at its seq.
Recorded Classify(const eventlog::Event& e) {
  Recorded r;
  if (e.type == ev::kActivityStarted) {
    // Undecodable: not taken as a decision, so Apply reports the damage at its seq.
    r.decision = DecodePayload(e.payload, &r.activity).ok() && r.activity.attempt == 1;
    if (r.decision) r.key = "s:" + r.activity.step;
  } else if (e.type == ev::kTimerStarted) {
    r.decision = true;
    r.key = DecodePayload(e.payload, &r.timer).ok() ? "t:" + r.timer.name : "?";
  } else if (e.type == ev::kChildStarted) {
    r.decision = true;
    r.key = DecodePayload(e.payload, &r.child).ok() ? "c:" + r.child.child_id : "?";
  } else if (e.type == ev::kWorkflowCompleted || e.type == ev::kWorkflowFailed) {
    r.decision = true;
    r.key = DecodePayload(e.payload, &r.ended).ok() ? "e" : "?";
  }
  return r;
}

// Whether command `c` is the one the decoded event `r` records.
bool Matches(const eventlog::Event& e, const Recorded& r, const WorkflowState& s, const Command& c) {
  if (e.type == ev::kActivityStarted) {
    auto* a = std::get_if<ScheduleActivity>(&c);
    return a && a->step == r.activity.step && a->activity == r.activity.activity &&
           a->input == r.activity.input;
  }
  if (e.type == ev::kTimerStarted) {
    auto* t = std::get_if<StartTimer>(&c);
    return t && t->name == r.timer.name;
  }
  if (e.type == ev::kChildStarted) {
    auto* ch = std::get_if<StartChild>(&c);
    return ch && ChildId(s.id, ch->name) == r.child.child_id && ch->type == r.child.type &&
           ch->input == r.child.input;
  }
  if (e.type == ev::kWorkflowCompleted) {
    auto* d = std::get_if<CompleteWorkflow>(&c);
    return d && d->result == r.ended.text;
  }
  auto* f = std::get_if<FailWorkflow>(&c);
  return f && f->error == r.ended.text;
}

std::string CommandKey(const WorkflowState& s, const Command& c) {
  if (auto* a = std::get_if<ScheduleActivity>(&c)) return "s:" + a->step;
  if (auto* t = std::get_if<StartTimer>(&c)) return "t:" + t->name;
  if (auto* ch = std::get_if<StartChild>(&c)) return "c:" + ChildId(s.id, ch->name);
  return "e";
}

// Re-derives decisions the way the engine makes them: one Decide gives a set of commands,
// which the engine appends one after another. A recorded decision that is still in the set
// of the last Decide is checked against that command; any other makes the verifier decide
// again over the history before it. So a decision function that returns N commands at once
// is called once, not N times (verify stays linear), and every decision event is still
// checked against what Decide returns for a prefix of its own history.
struct Folder {
  const engine::Registry& registry;
  VerifyReport* report;
  // One lookup per event: a workflow's folded state and the commands of its last Decide
  // not yet matched by a recorded decision.
  struct Folded {
    WorkflowState state;
    std::unordered_map<std::string, Command> pending;
  };
  std::unordered_map<std::string, Folded> states;

  Status Step(const eventlog::Event& e) {
    ++report->events;
    Folded& folded = states[e.workflow_id];
    WorkflowState& s = folded.state;
    const Workflow* def = s.events > 0 ? registry.FindWorkflow(s.type) : nullptr;
    Recorded r = s.events > 0 ? Classify(e) : Recorded();
    if (r.decision && s.paused && !s.cancel_requested)
      return Status(Code::kFailed, "event seq " + std::to_string(e.seq) + " (" + e.type + ") of workflow " +
                                       e.workflow_id + " was decided while the workflow was paused");
    if (r.decision && (!s.cancel_requested || (def && def->HandlesCancel()))) {
      if (!def)
        return Status(Code::kFailed, "event seq " + std::to_string(e.seq) + ": workflow type '" +
                                         s.type + "' is not known to this berth");
      auto& set = folded.pending;
      const std::string& key = r.key;
      auto it = set.find(key);
      if (it == set.end() || !Matches(e, r, s, it->second)) {
        set.clear();
        auto cmds = def->Decide(s);
        ++report->decide_calls;
        for (auto& c : cmds) {
          std::string k = CommandKey(s, c);
          set.emplace(std::move(k), std::move(c));
        }
        it = set.find(key);
        if (it == set.end() || !Matches(e, r, s, it->second)) {
          std::string want;  // decided again for the message: the commands moved into `set`
          for (const auto& c : def->Decide(s))
            if (want.size() < 2000) want += (want.empty() ? "" : "; ") + CommandText(c);
          return Status(Code::kFailed,
                        "nondeterminism at event seq " + std::to_string(e.seq) + " (workflow " +
                            e.workflow_id + "): recorded " + e.type + " [" + Describe(e) +
                            "], the decision function now gives [" +
                            (want.empty() ? "nothing" : want) + "]");
        }
      }
      set.erase(it);
      ++report->decisions;
    }
    Status applied = Apply(e, &s);
    if (applied.ok() && IsTerminal(s.status)) std::unordered_map<std::string, Command>().swap(folded.pending);
    return applied;
  }
};

std::string SummaryDiff(const WorkflowSummary& a, const WorkflowSummary& b) {
  std::string d;
  auto cmp = [&](const char* f, const std::string& x, const std::string& y) {
    if (x != y) d += std::string(" ") + f + ": expected '" + x + "', recorded '" + y + "';";
  };
  cmp("type", a.type, b.type);
  cmp("status", RunStatusName(a.status), RunStatusName(b.status));
  cmp("events", std::to_string(a.events), std::to_string(b.events));
  cmp("started_us", std::to_string(a.started_us), std::to_string(b.started_us));
  cmp("ended_us", std::to_string(a.ended_us), std::to_string(b.ended_us));
  cmp("error", a.error, b.error);
  cmp("parent", a.parent, b.parent);
  return d;
}

Status CheckProjections(const eventlog::EventLog& log, const Folder& f, bool whole,
                        VerifyReport* report) {
  if (!whole) {
    // One workflow: two point reads.
    for (const auto& [id, folded] : f.states) {
      const WorkflowState& s = folded.state;
      std::string raw;
      WorkflowSummary rec;
      Status g = log.GetProjection(SummaryKey(id), &raw);
      if (!g.ok() || !DecodeSummary(raw, &rec).ok())
        return Corruption("projection " + SummaryKey(id) + " is missing or undecodable");
      std::string diff = SummaryDiff(Summarize(s), rec);
      if (!diff.empty()) return Corruption("projection " + SummaryKey(id) + " disagrees with its history:" + diff);
      std::string open;
      bool is_open = log.GetOnce(OpenKey(id), &open).ok();
      if (is_open == IsTerminal(s.status))
        return Corruption("projection " + OpenKey(id) + (is_open ? " present for an ended workflow" : " missing for a running workflow"));
      report->projections += 2;
    }
    return Status::Ok();
  }
  // The whole log: one sequential scan of each projection prefix, each row looked up in the
  // folded states (a hash), then a count: every workflow has its rows. Linear, no seeks.
  Status bad;
  uint64_t summaries = 0, opens = 0, running = 0;
  Status s = log.ScanProjections(kSummaryPrefix, [&](const std::string& key, const std::string& raw) {
    std::string id = key.substr(std::string(kSummaryPrefix).size());
    auto it = f.states.find(id);
    if (it == f.states.end()) {
      bad = Corruption("projection " + key + " has no workflow history");
      return false;
    }
    WorkflowSummary rec;
    if (!DecodeSummary(raw, &rec).ok()) {
      bad = Corruption("projection " + key + " is undecodable");
      return false;
    }
    std::string diff = SummaryDiff(Summarize(it->second.state), rec);
    if (!diff.empty()) {
      bad = Corruption("projection " + key + " disagrees with its history:" + diff);
      return false;
    }
    ++summaries;
    return true;
  });
  if (!s.ok()) return s;
  if (!bad.ok()) return bad;
  s = log.ScanOnce(kOpenPrefix, [&](const std::string& key, const std::string&) {
    std::string id = key.substr(std::string(kOpenPrefix).size());
    auto it = f.states.find(id);
    if (it == f.states.end()) {
      bad = Corruption("projection " + key + " has no workflow history");
      return false;
    }
    if (IsTerminal(it->second.state.status)) {
      bad = Corruption("projection " + key + " present for an ended workflow");
      return false;
    }
    ++opens;
    return true;
  });
  if (!s.ok()) return s;
  if (!bad.ok()) return bad;
  for (const auto& [id, folded] : f.states) running += !IsTerminal(folded.state.status);
  if (summaries != f.states.size() || opens != running) {
    for (const auto& [id, folded] : f.states) {  // name one (rare: only on a damaged log)
      const WorkflowState& st = folded.state;
      std::string v;
      if (!log.GetProjection(SummaryKey(id), &v).ok())
        return Corruption("projection " + SummaryKey(id) + " is missing or undecodable");
      if (!IsTerminal(st.status) && !log.GetOnce(OpenKey(id), &v).ok())
        return Corruption("projection " + OpenKey(id) + " missing for a running workflow");
    }
  }
  report->projections = summaries + opens;
  return Status::Ok();
}

}  // namespace

Status Verify(const eventlog::EventLog& log, const engine::Registry& registry,
              const std::string& workflow_id, VerifyReport* report) {
  auto t0 = std::chrono::steady_clock::now();
  *report = VerifyReport();
  bool whole = workflow_id.empty();
  Folder f{registry, report, {}};
  Status step;
  auto visit = [&](const eventlog::Event& e) {
    step = f.Step(e);
    return step.ok();
  };
  // The whole log: chain, indexes and the fold in one pass (EventLog::VerifyAll).
  uint64_t n = 0;
  Status s = whole ? eventlog::RunPipelined(
                         [&](const eventlog::EventLog::Visitor& v) { return log.VerifyAll(&n, v); }, visit)
                   : log.ScanWorkflow(workflow_id, visit);
  if (!step.ok()) return step;
  if (!s.ok()) return s;
  if (!whole && f.states.empty())
    return NotFound("no workflow '" + workflow_id + "'; list them with `berth workflows`");
  report->workflows = f.states.size();
  if (Status p = CheckProjections(log, f, whole, report); !p.ok()) return p;
  report->seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return Status::Ok();
}

}  // namespace berth::replay
