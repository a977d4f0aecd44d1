// EngineClient: docker exec (create, start attached, demultiplex, read the exit code).
#include <chrono>
#include <thread>

#include "adapters/docker/engine_client.h"
#include "adapters/docker/json_fields.h"
#include "adapters/docker/stream_demux.h"

namespace berth::docker {
namespace {

constexpr int kExitCodePollsMax = 100;
constexpr auto kExitCodePollInterval = std::chrono::milliseconds(10);

json ExecCreateBody(const ExecSpec& spec) {
  json body = {{"AttachStdin", false},
               {"AttachStdout", true},
               {"AttachStderr", true},
               {"Tty", false},
               {"Cmd", spec.cmd}};
  if (!spec.env.empty()) body["Env"] = spec.env;
  if (!spec.user.empty()) body["User"] = spec.user;
  if (!spec.working_dir.empty()) body["WorkingDir"] = spec.working_dir;
  return body;
}

}  // namespace

Result<ExecResult> EngineClient::Exec(const std::string& container, const ExecSpec& spec) {
  using Clock = std::chrono::steady_clock;
  auto deadline = Clock::now() + std::chrono::milliseconds(spec.timeout_ms);
  auto remaining_ms = [&] {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    return std::max<int64_t>(left.count(), 1);
  };
  std::string what = "exec in " + container;

  Result<json> created =
      CallJson(Request("POST", "/containers/" + container + "/exec", ExecCreateBody(spec).dump()));
  if (!created.ok()) return created.status().WithContext(what);
  std::string exec_id = StringField(*created, "Id");

  // Without a TTY the answer is the multiplexed stream; it ends when the command exits.
  StreamDemux demux(spec.output_bytes_max);
  Status feed;
  HttpRequest start = Request("POST", "/exec/" + exec_id + "/start",
                              json{{"Detach", false}, {"Tty", false}}.dump());
  start.timeout_ms = remaining_ms();
  start.cancelled = spec.cancelled;
  start.on_data = [&](std::string_view chunk) {
    feed = demux.Feed(chunk);
    return feed.ok();
  };
  Result<HttpResponse> started = Call(std::move(start));
  if (!started.ok()) return started.status().WithContext(what);
  if (!feed.ok()) return feed.WithContext(what);
  if (Status s = demux.Finish(); !s.ok()) return s.WithContext(what);

  // The stream can close a moment before the engine records the exit code.
  for (int poll = 0; poll < kExitCodePollsMax; ++poll) {
    HttpRequest inspect = Request("GET", "/exec/" + exec_id + "/json");
    inspect.timeout_ms = remaining_ms();
    inspect.cancelled = spec.cancelled;
    Result<json> state = CallJson(std::move(inspect));
    if (!state.ok()) return state.status().WithContext(what);
    if (!BoolField(*state, "Running")) {
      ExecResult out;
      out.exit_code = static_cast<int>(IntField(*state, "ExitCode"));
      out.stdout_text = demux.stdout_text();
      out.stderr_text = demux.stderr_text();
      out.truncated = demux.truncated();
      return out;
    }
    std::this_thread::sleep_for(kExitCodePollInterval);
  }
  return Status(Code::kUnknownOutcome, what + ": output ended but the command still runs");
}

}  // namespace berth::docker
