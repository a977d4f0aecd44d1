// DockerClient: the contract between Berth and one Docker engine.
//
// Every call that touches a Docker host goes through this interface, so engine and workflow
// tests can substitute a fake (or a forwarding wrapper that injects one fault). The real
// implementation is EngineClient (engine_client.h, Engine API over libcurl).
//
// Threads: implementations must be safe to call from any number of threads at once.
//
// Errors are values. Every call returns a Status (or Result<T>) whose code says what the
// caller can do next:
//   kNotFound        the container / image / network named does not exist (HTTP 404).
//   kConflict        it already exists, or its state forbids the call (HTTP 409): a name in
//                    use, removing a running container without force, an image in use.
//   kUnavailable     the engine could not be reached; nothing was sent. Safe to retry.
//   kTimeout         the call ran out of time before the request was sent. Safe to retry.
//   kUnknownOutcome  the request was sent and no answer came in time (or the connection
//                    broke mid-answer). The effect may or may not have happened: look the
//                    world up (by the berth.key label) before redoing it.
//   kInvalidArgument the caller's input was refused before sending (e.g. a bad DOCKER_HOST).
//   kFailed          the engine answered with another error (4xx/5xx); the message is the
//                    engine's own text. Also a build or pull that reported an error.
//   kCancelled       a stream was stopped through its stop_token.
// Calls that are no-ops in the engine's eyes (starting a running container, stopping a
// stopped one; HTTP 304) succeed, so activities can be retried.
#pragma once

#include <functional>
#include <stop_token>
#include <string>
#include <vector>

#include "adapters/docker/docker_types.h"
#include "eventlog/status.h"

namespace berth::docker {

class DockerClient {
 public:
  virtual ~DockerClient() = default;

  // The engine's version and the API version used for every other call. The first call
  // (of any kind) negotiates it; later ones reuse the answer.
  virtual Result<EngineVersion> Version() = 0;
  // GET /info: the engine's name, CPUs and memory (for placement). Default: kUnsupported.
  virtual Result<EngineInfo> Info() { return Status(Code::kUnsupported, "this client has no /info"); }
  // GET /images/{ref}/get: the image as a `docker save` tar; POST /images/load of one.
  // For seeding a new host with the base image (adapters/hosts/local). Default: kUnsupported.
  virtual Result<std::string> SaveImage(const std::string& ref) {
    return Status(Code::kUnsupported, "this client cannot save images");
  }
  virtual Status LoadImage(const std::string& tar) { return Status(Code::kUnsupported, "this client cannot load images"); }
  // POST /images/create?fromSrc=- (`docker import`): a root filesystem tar as image
  // repo:tag, with Dockerfile `changes` ("ENV PATH=...", "CMD [...]").
  virtual Status ImportImage(const std::string& tar, const std::string& repo, const std::string& tag,
                             const std::vector<std::string>& changes) {
    return Status(Code::kUnsupported, "this client cannot import images");
  }

  // ---- Containers -------------------------------------------------------------------------

  // Creates (does not start) a container; returns its id. kNotFound: no such image (Berth
  // never pulls implicitly). kConflict: the name is taken.
  virtual Result<std::string> CreateContainer(const ContainerSpec& spec) = 0;
  // Starts a created or stopped container. Already running: ok.
  virtual Status StartContainer(const std::string& id) = 0;
  // Sends the stop signal, waits up to timeout_s, then SIGKILL. Already stopped: ok.
  virtual Status StopContainer(const std::string& id, int timeout_s) = 0;
  // Sends `signal` ("SIGKILL", "SIGHUP", ...). kConflict: the container is not running.
  virtual Status KillContainer(const std::string& id, const std::string& signal) = 0;
  // Removes a container (and its anonymous volumes). force kills it first when running;
  // without force a running container gives kConflict.
  virtual Status RemoveContainer(const std::string& id, bool force) = 0;
  // Blocks until the container is not running (up to timeout_ms); returns its exit code.
  virtual Result<int> WaitContainer(const std::string& id, int64_t timeout_ms) = 0;
  virtual Result<ContainerInfo> InspectContainer(const std::string& id) = 0;
  // Every container (running or not) that carries all of `labels` ("" value: the key only).
  // Fills id, name, image, image_id, state.status/running/health, labels, networks, ports.
  // kUnavailable: one of them is still being created (the engine lists a container before
  // its create ends, and answers 404 for it until then): ask again shortly.
  virtual Result<std::vector<ContainerInfo>> ListContainers(const Labels& labels) = 0;
  // The container's stdout and stderr so far (non-tty containers), demultiplexed.
  virtual Result<ExecResult> Logs(const std::string& id) = 0;

  // Runs a command in a running container and waits for it. A non-zero exit code is a
  // value in ExecResult, not an error. kConflict: the container is not running.
  // kUnknownOutcome: the command was started and did not finish within spec.timeout_ms.
  virtual Result<ExecResult> Exec(const std::string& container, const ExecSpec& spec) = 0;

  // ---- Images -----------------------------------------------------------------------------

  // Commits a container to repo:tag; returns the new image id.
  virtual Result<std::string> Commit(const CommitSpec& spec) = 0;
  // `ref` is a name:tag or an id.
  virtual Result<ImageInfo> InspectImage(const std::string& ref) = 0;
  virtual Result<std::vector<ImageInfo>> ListImages(const ImageFilter& filter) = 0;
  // Adds the name repo:tag to image `ref` (moving it if another image had it).
  virtual Status TagImage(const std::string& ref, const std::string& repo,
                          const std::string& tag) = 0;
  // Removes a name (or, by id, the image). kConflict: a container uses it (without force).
  virtual Status RemoveImage(const std::string& ref, bool force) = 0;
  // docker build. kFailed carries the step's error text (errorDetail) and the log so far.
  virtual Result<BuildResult> BuildImage(const BuildSpec& spec) = 0;
  // docker pull image:tag. kFailed when the registry refuses or cannot be reached.
  virtual Status PullImage(const std::string& image, const std::string& tag,
                           int64_t timeout_ms) = 0;
  // docker push image:tag (the image's name says the registry: "10.213.7.1:5213/x").
  // kFailed when the registry refuses or cannot be reached.
  virtual Status PushImage(const std::string& image, const std::string& tag, int64_t timeout_ms) {
    (void)image, (void)tag, (void)timeout_ms;
    return Status(Code::kUnsupported, "push is not supported by this client");
  }

  // ---- Networks ---------------------------------------------------------------------------

  // Creates a network; returns its id. kConflict: the name is taken (the engine is asked
  // to check). kFailed: e.g. the subnet overlaps another network.
  virtual Result<std::string> CreateNetwork(const NetworkSpec& spec) = 0;
  virtual Result<NetworkInfo> InspectNetwork(const std::string& id_or_name) = 0;
  // Every network carrying all of `labels` ("" value: the key only). Fills id, name, driver,
  // labels (not containers: the list call does not report them).
  virtual Result<std::vector<NetworkInfo>> ListNetworks(const Labels& labels) = 0;
  // kConflict (or kFailed on older engines): containers are still attached.
  virtual Status RemoveNetwork(const std::string& id_or_name) = 0;
  virtual Status ConnectNetwork(const std::string& network, const std::string& container,
                                const EndpointSpec& endpoint) = 0;
  virtual Status DisconnectNetwork(const std::string& network, const std::string& container,
                                   bool force) = 0;

  // ---- Events -----------------------------------------------------------------------------

  // Streams engine events matching `filter`, calling on_event once per message on the
  // calling thread. Returns ok when on_event returns false or the stream ends (`until`
  // reached); kCancelled when `stop` is requested (noticed within about a second);
  // kUnavailable / kFailed when the connection fails or breaks.
  virtual Status StreamEvents(const EventFilter& filter,
                              const std::function<bool(const Event&)>& on_event,
                              std::stop_token stop) = 0;
};

}  // namespace berth::docker
