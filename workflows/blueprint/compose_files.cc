// Compose `configs` and `secrets`, as Compose runs them without Swarm: each is a file on the
// host, mounted read-only into the services that name it (a config at /<name>, a secret at
// /run/secrets/<name>, unless `target` says otherwise). Only `file:` sources for now.
#include <filesystem>
#include <map>
#include <string>

#include "workflows/blueprint/compose_service_parse.h"

namespace berth::workflows::compose {

namespace {
const char* Kind(bool secret) { return secret ? "secret" : "config"; }
}  // namespace

std::map<std::string, TopFile> TopFiles(ComposeReader& r, const Entry* top, bool secret) {
  std::map<std::string, TopFile> out;
  if (top == nullptr) return out;
  const std::string kind = Kind(secret);
  for (const Entry& f : r.Map(top->value, top->where, true).value_or(std::vector<Entry>())) {
    if (!ValidObjectName(f.key)) r.Error(f.key_where, kind + " name " + std::string(kObjectNameRule));
    TopFile file;
    file.where = f.key_where;
    bool has_file = false;
    for (const Entry& k : r.Map(f.value, f.where, true).value_or(std::vector<Entry>())) {
      if (k.key == "file") {
        std::string path = r.String(k.value, k.where).value_or("");
        if (path.empty()) {
          r.Error(k.where, kind + " " + f.key + ": `file` is empty");
          continue;
        }
        file.path = r.AbsolutePath(path);
        file.where = k.where;
        has_file = true;
      } else if (k.key == "name") {
        (void)r.String(k.value, k.where);  // the engine's name for it: only Swarm has one
      } else if (k.key == "external") {
        if (r.Bool(k.value, k.where).value_or(false))
          r.Error(k.where, "an external " + kind + " is a Swarm object, and Berth runs without Swarm: "
                           "give it a `file:` instead");
      } else if (k.key == "environment" || k.key == "content") {
        r.Error(k.key_where, kind + " " + f.key + ": `" + k.key + "` is not supported yet: put the value in a "
                             "file and name it with `file:`");
      } else {
        r.OtherKey(k, {"labels", "driver", "driver_opts", "template_driver"});
      }
    }
    if (!has_file) r.Error(f.key_where, kind + " " + f.key + " needs `file: PATH` (the file mounted into services)");
    out[f.key] = file;
  }
  return out;
}

void FileRefs(ServiceParse& p, const Entry& e) {
  const bool secret = e.key == "secrets";
  for (const auto& [item, at] : p.r.List(e.value, e.where).value_or(Items())) {
    ServiceDef::FileRef ref;
    ref.secret = secret;
    ref.line = at.line;
    ref.col = at.col;
    ref.path = at.path;
    if (!item.IsMap()) {
      ref.source = p.r.String(item, at).value_or("");
    } else {
      bool owner = false;
      for (const Entry& k : p.r.Map(item, at).value_or(std::vector<Entry>())) {
        if (k.key == "source") ref.source = p.r.String(k.value, k.where).value_or("");
        else if (k.key == "target") ref.target = p.r.String(k.value, k.where).value_or("");
        else if (k.key == "uid" || k.key == "gid" || k.key == "mode") {
          (void)p.r.String(k.value, k.where);
          owner = true;
        } else {
          p.r.OtherKey(k, {});
        }
      }
      if (owner)
        p.r.Warn(at, "uid, gid and mode are not applied: the file is mounted as it is on the host (Compose does "
                     "the same without Swarm)");
    }
    if (ref.source.empty()) {
      p.r.Error(at, std::string(Kind(secret)) + " reference without a `source`");
      continue;
    }
    if (ref.target.empty()) ref.target = secret ? "/run/secrets/" + ref.source : "/" + ref.source;
    else if (ref.target[0] != '/') ref.target = (secret ? "/run/secrets/" : "/") + ref.target;
    p.def.file_refs.push_back(ref);
  }
}

void ResolveFileRefs(ComposeReader& r, const std::map<std::string, TopFile>& configs,
                     const std::map<std::string, TopFile>& secrets, Blueprint* b) {
  for (ServiceDef& s : b->services) {
    for (const ServiceDef::FileRef& ref : s.file_refs) {
      const auto& top = ref.secret ? secrets : configs;
      Where w{ref.path, ref.line, ref.col};
      auto it = top.find(ref.source);
      if (it == top.end()) {
        r.Error(w, std::string(Kind(ref.secret)) + " '" + ref.source + "' is not declared under top-level " +
                       (ref.secret ? "secrets" : "configs"));
        continue;
      }
      if (it->second.path.empty()) continue;  // reported where it is declared
      std::error_code ec;
      if (!std::filesystem::is_regular_file(it->second.path, ec)) {
        r.Error(it->second.where, std::string(Kind(ref.secret)) + " " + ref.source + ": file " + it->second.path +
                                      " does not exist or is not a file (mounting a missing file would make "
                                      "an empty directory in its place)");
        continue;
      }
      VolumeMount m;
      m.source = it->second.path;
      m.target = ref.target;
      m.read_only = true;
      s.volumes.push_back(m);
    }
    s.file_refs.clear();
  }
}

}  // namespace berth::workflows::compose
