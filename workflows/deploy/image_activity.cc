// docker.image: the image a service's containers start from. A Dockerfile build tagged by
// a hash of its context, a plain image that must be on the engine, and on top of either the
// image cache: x-berth.install run once per key in a scratch container, committed and
// tagged berth-cache/<service>:<key12>.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <filesystem>
#include <map>
#include <mutex>

#include "adapters/docker/build_context.h"
#include "workflows/deploy/activity_util.h"
#include "workflows/deploy/names.h"

namespace berth::workflows {
namespace internal {
namespace {

using docker::DockerClient;
using engine::ActivityContext;

struct Base {
  std::string ref, id, how;
};

std::string ArgsText(const std::map<std::string, std::string>& args) {
  std::string t;
  for (const auto& [k, v] : args) t += k + "=" + v + '\0';
  return t;
}

Result<Base> BuildBase(const std::string& app, const ServiceDef& s, DockerClient& d) {
  const BuildDef& b = *s.build;
  docker::BuildContext context;
  if (Status st = context.AddDirectory(b.context, {b.dockerfile, ".dockerignore"}); !st.ok())
    return Failed("build context " + b.context + ": " + st.message());
  Result<std::string> tar = context.Finish();
  if (!tar.ok()) return tar.status();
  // The archive has fixed mtimes and owners, so equal trees give equal bytes.
  std::string hash = Sha256Hex(*tar + '\0' + b.dockerfile + '\0' + ArgsText(b.args) +
                               (b.options.empty() && b.labels.empty()
                                    ? std::string()  // as before build options existed
                                    : '\0' + ArgsText(b.options) + '\0' + ArgsText(b.labels)));
  std::string ref = BuildRepo(app, s.name) + ":" + hash.substr(0, 12);
  if (auto have = d.InspectImage(ref); have.ok()) return Base{ref, have->id, "build-reused"};
  docker::BuildSpec spec;
  spec.context_tar = std::move(*tar);
  spec.dockerfile = b.dockerfile;
  spec.tags = {ref};
  spec.tags.insert(spec.tags.end(), b.tags.begin(), b.tags.end());
  spec.build_args = b.args;
  spec.options = b.options;
  spec.labels = b.labels;
  for (const auto& [k, v] : docker::Labels{{kLabelApp, app}, {kLabelService, s.name}, {kLabelContextHash, hash}})
    spec.labels[k] = v;
  auto built = d.BuildImage(spec);
  if (!built.ok()) return built.status();
  return Base{ref, built->image_id, "built"};
}

Result<Base> PlainBase(const ServiceDef& s, DockerClient& d) {
  auto have = d.InspectImage(s.image);
  if (have.ok()) return Base{s.image, have->id, "present"};
  if (have.status().code() != Code::kNotFound) return have.status();
  // Not on the engine: one pull attempt, but only from a registry the reference names
  // ("127.0.0.1:5000/app:1", "registry.example/app"): Berth never reaches out to Docker
  // Hub on its own (these machines have no internet, and tests must not try).
  std::string first = s.image.substr(0, s.image.find('/'));
  bool names_registry = s.image.find('/') != std::string::npos &&
                        (first.find_first_of(".:") != std::string::npos || first == "localhost");
  if (s.pull_policy == "never")
    return Status(Code::kNotFound, "image " + s.image + " is not on the engine and pull_policy is never");
  if (!names_registry)
    return NotFound("image " + s.image +
                    " is not on the engine; build or import it first (Berth pulls only from a "
                    "registry the image name includes, e.g. 127.0.0.1:5000/" + s.image + ")");
  std::string repo = s.image, tag = "latest";
  if (size_t colon = s.image.rfind(':');
      colon != std::string::npos && s.image.find('/', colon) == std::string::npos) {
    repo = s.image.substr(0, colon);
    tag = s.image.substr(colon + 1);
  }
  Status pulled = d.PullImage(repo, tag, 120'000);
  if (pulled.code() == Code::kUnavailable || pulled.code() == Code::kUnknownOutcome ||
      pulled.code() == Code::kTimeout)
    return pulled;  // the engine itself is away: retried
  if (!pulled.ok())
    return NotFound("image " + s.image + " is not on the engine and could not be pulled (" +
                    pulled.message() + "); build or import it first, or fix `image:`");
  have = d.InspectImage(s.image);
  if (!have.ok()) return have.status();
  return Base{s.image, have->id, "pulled"};
}

// One install at a time per cache key in this process, so replicas deployed together (or
// two apps with the same key) wait for the one install instead of each installing.
std::mutex& KeyMutex(const std::string& key) {
  static std::mutex guard;
  static std::map<std::string, std::unique_ptr<std::mutex>> locks;
  std::lock_guard<std::mutex> g(guard);
  auto& m = locks[key];
  if (!m) m = std::make_unique<std::mutex>();
  return *m;
}

// And across processes (two data directories on one engine, a server and a tool run on
// its own): an flock on a file named by the key, released when the install is done or
// the process dies.
class KeyFileLock {
 public:
  explicit KeyFileLock(const std::string& key) {
    std::error_code ec;
    std::string dir = std::filesystem::is_directory("/run/lock", ec) ? "/run/lock" : std::filesystem::temp_directory_path(ec).string();
    fd_ = ::open((dir + "/berth-image-" + key.substr(0, 16) + ".lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ >= 0) ::flock(fd_, LOCK_EX);  // no lock file (a read-only /run): this process's mutex only
  }
  ~KeyFileLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  KeyFileLock(const KeyFileLock&) = delete;
  KeyFileLock& operator=(const KeyFileLock&) = delete;

 private:
  int fd_ = -1;
};

std::string JsonList(const std::optional<std::vector<std::string>>& v) {
  return json(v.value_or(std::vector<std::string>{})).dump();
}

// The engine's 500 (kFailed) while removing is its own trouble, not the step's: retried.
Status Retryable(Status s) {
  return s.code() == Code::kFailed ? Status(Code::kUnavailable, s.message()) : s;
}

Status RemoveScratch(DockerClient& d, const std::string& key) {
  auto list = d.ListContainers({{kLabelKey, key}, {kLabelRole, "install"}});
  if (!list.ok()) return Retryable(list.status());
  for (const auto& c : *list) {
    Status s = d.RemoveContainer(c.id, /*force=*/true);
    // A removal the dead attempt started answers kUnavailable: retried until gone.
    if (!s.ok() && s.code() != Code::kNotFound)
      return Retryable(s).WithContext("removing the install container of an earlier attempt");
  }
  return Status::Ok();
}

// Runs the install commands in a scratch container made from `base` and commits it.
Result<std::string> Install(const ActivityContext& ctx, const std::string& app, const ServiceDef& s,
                            const Base& base, const std::string& key, const std::string& ref,
                            DockerClient& d) {
  auto base_info = d.InspectImage(base.id);
  if (!base_info.ok()) return base_info.status();
  docker::ContainerSpec c;
  c.image = base.id;
  // Kept alive by a shell loop. The engine's commit cannot clear a config field (an empty
  // ENTRYPOINT or CMD change falls back to the container's), so the entrypoint is replaced
  // only when the base has one (and restored from it below); otherwise the loop is the CMD,
  // restored when the base has a CMD. A base with neither keeps the loop as its CMD.
  std::vector<std::string> keep_alive = {"sh", "-c", "while :; do sleep 1; done"};
  bool has_entrypoint = base_info->entrypoint && !base_info->entrypoint->empty();
  bool has_cmd = base_info->cmd && !base_info->cmd->empty();
  if (has_entrypoint) {
    c.entrypoint = keep_alive;
    c.cmd = std::vector<std::string>{};
  } else {
    c.cmd = keep_alive;
  }
  // The install sees only the base image (its env, user and working dir), exactly what the
  // cache key covers: the service's environment neither changes the result behind the key's
  // back nor gets baked (secrets included) into an image meant for sharing.
  c.labels = {{kLabelApp, app},          {kLabelService, s.name}, {kLabelWorkflow, ctx.workflow_id},
              {kLabelKey, ctx.idempotency_key}, {kLabelRole, "install"}};
  auto id = d.CreateContainer(c);
  if (!id.ok()) return id.status().WithContext("creating the install container");
  auto fail = [&](Status st) {
    (void)d.RemoveContainer(*id, /*force=*/true);
    return st;
  };
  if (Status st = d.StartContainer(*id); !st.ok())
    return fail(st.WithContext("starting the install container"));
  for (size_t i = 0; i < s.install.size(); ++i) {
    docker::ExecSpec e;
    e.cmd = {"sh", "-c", s.install[i]};
    e.timeout_ms = 30 * 60 * 1000;
    auto r = d.Exec(*id, e);
    if (!r.ok()) return fail(r.status().WithContext("install command " + std::to_string(i + 1)));
    if (r->exit_code != 0)
      return fail(Failed("install command " + std::to_string(i + 1) + " of " +
                         std::to_string(s.install.size()) + " (`" + s.install[i] +
                         "`) exited with " + std::to_string(r->exit_code) +
                         (r->stderr_text.empty() ? "" : ": " + Tail(r->stderr_text))));
  }
  docker::CommitSpec commit;
  commit.container = *id;
  commit.repo = ref.substr(0, ref.rfind(':'));
  commit.tag = ref.substr(ref.rfind(':') + 1);
  commit.labels = {{kLabelCacheKey, key}, {kLabelService, s.name}, {"berth.base", base.id}};
  // Neither may the scratch container's identity labels: containers made from the image
  // would inherit them (and one labelled berth.role=install would be taken for scratch).
  commit.changes = {"LABEL berth.role=\"\" berth.key=\"\" berth.workflow=\"\" berth.app=\"\""};
  if (has_entrypoint) commit.changes.push_back("ENTRYPOINT " + JsonList(base_info->entrypoint));
  if (has_cmd) commit.changes.push_back("CMD " + JsonList(base_info->cmd));
  commit.comment = "berth install for " + app + "/" + s.name;
  auto image = d.Commit(commit);
  if (!image.ok()) return fail(image.status().WithContext("committing the install"));
  // Not done while the scratch container is there: a failed removal is retried, and the
  // retry finds the committed image (a cache hit) after removing the container.
  Status rm = d.RemoveContainer(*id, /*force=*/true);
  if (!rm.ok() && rm.code() != Code::kNotFound)
    return Retryable(rm).WithContext("removing the install container after the commit");
  return *image;
}

std::pair<std::string, std::string> RepoTag(const std::string& ref) {
  size_t colon = ref.rfind(':');
  if (colon == std::string::npos || ref.find('/', colon) != std::string::npos) return {ref, "latest"};
  return {ref.substr(0, colon), ref.substr(colon + 1)};
}

// A registry that refuses or is away is worth another attempt (it may be restarting).
Status RegistryTrouble(Status s, const std::string& registry) {
  if (s.ok()) return s;
  return Status(s.code() == Code::kFailed ? Code::kUnavailable : s.code(),
                s.message() + " (the cloud's registry is " + registry + ")");
}

class Image final : public DockerActivity {
 public:
  Image(HostDockerProvider d, std::function<Status(const std::string&)> registry_ready)
      : DockerActivity("docker.image", std::move(d)), registry_ready_(std::move(registry_ready)) {}

 protected:
  Result<std::string> Do(const ActivityContext& ctx, const json& in, DockerClient& d) override {
    if (in.contains("pull")) return Pull(in["pull"], d);
    auto out = Make(ctx, in, d);
    if (!out.ok()) return out.status();
    if (in.contains("push") && in["push"].is_string()) {
      const std::string registry = in["push"].get<std::string>();
      if (Status s = Push(registry, out->value("ref", ""), d); !s.ok()) return s;
      (*out)["pushed"] = registry + "/" + out->value("ref", "");
    }
    return out->dump();
  }

 private:
  Status Ready(const std::string& registry) {
    return registry_ready_ ? RegistryTrouble(registry_ready_(registry), registry) : Status::Ok();
  }

  // The image the first host made, sent to the registry under the registry's name.
  Status Push(const std::string& registry, const std::string& ref, DockerClient& d) {
    if (Status s = Ready(registry); !s.ok()) return s;
    auto [repo, tag] = RepoTag(ref);
    if (Status s = d.TagImage(ref, registry + "/" + repo, tag); !s.ok()) return s.WithContext("naming " + ref + " for the registry");
    return RegistryTrouble(d.PushImage(registry + "/" + repo, tag, 600'000), registry);
  }

  // Another host's image, from the registry: the same id, under the same name it has there.
  Result<std::string> Pull(const json& pull, DockerClient& d) {
    if (!pull.is_object() || !pull.contains("from") || !pull["from"].is_object())
      return InvalidArgument("docker.image: \"pull\" needs {\"registry\", \"from\"}");
    const std::string registry = pull.value("registry", "");
    json out = pull["from"];
    out.erase("pushed");
    const std::string ref = out.value("ref", ""), id = out.value("id", "");
    if (out.value("how", "") != "install-per-container") out["how"] = "pulled";
    out["from"] = registry + "/" + ref;
    if (auto have = d.InspectImage(ref); have.ok() && have->id == id) {
      if (out["how"] == "pulled") out["how"] = "present";
      return out.dump();
    }
    if (Status s = Ready(registry); !s.ok()) return s;
    auto [repo, tag] = RepoTag(ref);
    const std::string remote = registry + "/" + repo;
    if (Status s = RegistryTrouble(d.PullImage(remote, tag, 600'000), registry); !s.ok()) return s;
    auto got = d.InspectImage(remote + ":" + tag);
    if (!got.ok()) return got.status();
    if (got->id != id)
      return Failed("the registry's " + remote + ":" + tag + " is image " + got->id.substr(0, 19) + ", not " +
                    id.substr(0, 19) + " as the first host pushed (another push replaced it): deploy again");
    if (Status s = d.TagImage(remote + ":" + tag, repo, tag); !s.ok()) return s;
    return out.dump();
  }

  Result<json> Make(const ActivityContext& ctx, const json& in, DockerClient& d) {
    auto s = OneService(in);
    if (!s.ok()) return s.status();
    std::string app = Str(in, "app");
    Result<Base> base = s->build ? BuildBase(app, *s, d) : PlainBase(*s, d);
    if (!base.ok()) return base.status();
    json out = {{"ref", base->ref}, {"id", base->id}, {"how", base->how}};
    if (s->install.empty()) return out;

    std::string install_text;
    for (const auto& cmd : s->install) install_text += cmd + '\0';
    std::string key = Sha256Hex(base->id + '\n' + install_text + '\n' +
                                ArgsText(s->build ? s->build->args : std::map<std::string, std::string>{}));
    out["key"] = key;
    if (!in.value("cache", true)) {
      // Each container installs for itself: docker.create wraps the base's command so it
      // waits for the install (see SpecFor), and needs that command.
      auto info = d.InspectImage(base->id);
      if (!info.ok()) return info.status();
      out["how"] = "install-per-container";
      out["entrypoint"] = info->entrypoint ? json(*info->entrypoint) : json(nullptr);
      out["cmd"] = info->cmd ? json(*info->cmd) : json(nullptr);
      return out;
    }
    std::string ref = CacheRepo(s->name) + ":" + key.substr(0, 12);
    std::lock_guard<std::mutex> one_install(KeyMutex(key));
    KeyFileLock one_install_anywhere(key);
    // A scratch container of an earlier attempt of this step (its cleanup failed, e.g. while
    // the engine restarted) goes first, also when the commit had happened (a cache hit
    // below): the step ends with none of its scratch containers left.
    if (Status st = RemoveScratch(d, ctx.idempotency_key); !st.ok()) return st;
    if (auto have = d.InspectImage(ref); have.ok()) {
      if (docker::LabelValue(have->labels, kLabelCacheKey) == key)
        return json{{"ref", ref}, {"id", have->id}, {"how", "cache-hit"}, {"key", key}};
    }
    auto image = Install(ctx, app, *s, *base, key, ref, d);
    if (!image.ok()) return image.status();
    return json{{"ref", ref}, {"id", *image}, {"how", "installed"}, {"key", key}};
  }

  std::function<Status(const std::string&)> registry_ready_;

 protected:
  // A scratch container left by a dead attempt is removed; the step then runs again and
  // finds the committed image (a cache hit) if the commit had happened.
  Adopt Find(const ActivityContext& ctx, const json&, DockerClient& d) override {
    if (Status s = RemoveScratch(d, ctx.idempotency_key); !s.ok()) return s;
    return std::optional<std::string>();
  }
};

}  // namespace

void RegisterImageActivities(engine::Registry* r, const HostDockerProvider& d,
                             const DockerActivityOptions& options) {
  auto a = std::make_unique<Image>(d, options.registry_ready);
  a->Guard(options.host_guard);
  r->Add(std::move(a));
}

}  // namespace internal

void RegisterDockerActivities(engine::Registry* r, HostDockerProvider docker,
                              const DockerActivityOptions& options) {
  internal::RegisterContainerActivities(r, docker, options);
  internal::RegisterCreateActivity(r, docker, options);
  internal::RegisterImageActivities(r, docker, options);
  internal::RegisterNetworkActivities(r, docker, options);
}

}  // namespace berth::workflows
