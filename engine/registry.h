// Registry: workflow types and activities by name. Filled at start-up, read-only afterwards.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/activity.h"
#include "engine/workflow.h"

namespace berth::engine {

class Registry {
 public:
  void Add(std::unique_ptr<Workflow> w) { workflows_[w->type()] = std::move(w); }
  void Add(std::unique_ptr<Activity> a) { activities_[a->name()] = std::move(a); }
  const Workflow* FindWorkflow(const std::string& type) const {
    auto it = workflows_.find(type);
    return it == workflows_.end() ? nullptr : it->second.get();
  }
  Activity* FindActivity(const std::string& name) const {
    auto it = activities_.find(name);
    return it == activities_.end() ? nullptr : it->second.get();
  }
  std::vector<std::string> WorkflowTypes() const {
    std::vector<std::string> v;
    for (const auto& [k, w] : workflows_) v.push_back(k);
    return v;
  }

 private:
  std::map<std::string, std::unique_ptr<Workflow>> workflows_;
  std::map<std::string, std::unique_ptr<Activity>> activities_;
};

}  // namespace berth::engine
