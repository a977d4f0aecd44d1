#include "adapters/hosts/local/command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace berth::hosts::local {
namespace {

std::string Joined(const std::vector<std::string>& argv) {
  std::string s;
  for (const auto& a : argv) s += (s.empty() ? "" : " ") + a;
  return s;
}

std::vector<char*> Argv(const std::vector<std::string>& argv) {
  std::vector<char*> v;
  for (const auto& a : argv) v.push_back(const_cast<char*>(a.c_str()));
  v.push_back(nullptr);
  return v;
}

}  // namespace

Result<CommandResult> Run(const std::vector<std::string>& argv, int64_t timeout_ms) {
  if (argv.empty()) return InvalidArgument("no command");
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return Status(Code::kFailed, std::string("pipe: ") + std::strerror(errno));
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 2);
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);  // nothing of Berth's (the log's lock) leaks
  pid_t pid = 0;
  auto args = Argv(argv);
  int err = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(fds[1]);
  if (err != 0) {
    ::close(fds[0]);
    return Status(err == ENOENT ? Code::kNotFound : Code::kFailed,
                  argv[0] + ": " + std::strerror(err) + (err == ENOENT ? " (is it installed? scripts/setup.sh)" : ""));
  }
  CommandResult out;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  bool timed_out = false;
  char buf[4096];
  for (;;) {
    int left = int(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count());
    if (left <= 0) {
      timed_out = true;
      ::kill(pid, SIGKILL);
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    int n = ::poll(&p, 1, std::min(left, 1000));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) continue;
    ssize_t r = ::read(fds[0], buf, sizeof buf);
    if (r <= 0) break;  // EOF: every writer closed
    out.output.append(buf, size_t(r));
    if (out.output.size() > 65536) out.output.erase(0, out.output.size() - 65536);
  }
  ::close(fds[0]);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) return Status(Code::kTimeout, Joined(argv) + ": no end within " + std::to_string(timeout_ms) + " ms");
  out.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return out;
}

Status RunOk(const std::vector<std::string>& argv, int64_t timeout_ms) {
  auto r = Run(argv, timeout_ms);
  if (!r.ok()) return r.status();
  if (r->exit_code == 0) return Status::Ok();
  std::string tail = r->output.size() > 400 ? "..." + r->output.substr(r->output.size() - 400) : r->output;
  while (!tail.empty() && (tail.back() == '\n' || tail.back() == ' ')) tail.pop_back();
  return Status(Code::kFailed, Joined(argv) + " exited " + std::to_string(r->exit_code) + (tail.empty() ? "" : ": " + tail));
}

Result<int> Spawn(const std::vector<std::string>& argv, const std::string& log_path) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  posix_spawnattr_t at;
  posix_spawnattr_init(&at);
  posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSID);
  pid_t pid = 0;
  auto args = Argv(argv);
  int err = posix_spawnp(&pid, args[0], &fa, &at, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  if (err != 0) return Status(err == ENOENT ? Code::kNotFound : Code::kFailed, argv[0] + ": " + std::strerror(err));
  return int(pid);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
  out.close();
  return out ? Status::Ok() : Status(Code::kFailed, "cannot write " + path);
}

int LivePid(const std::string& pidfile, const std::string& marker) {
  int pid = std::atoi(ReadFile(pidfile).c_str());
  if (pid <= 0 || ::kill(pid, 0) != 0) return 0;
  std::string cmd = ReadFile("/proc/" + std::to_string(pid) + "/cmdline");
  for (auto& c : cmd)
    if (c == '\0') c = ' ';
  return cmd.find(marker) != std::string::npos ? pid : 0;
}

void StopPid(const std::string& pidfile, const std::string& marker, int64_t grace_ms) {
  int pid = LivePid(pidfile, marker);
  if (!pid) return;
  ::kill(pid, SIGTERM);
  for (int64_t waited = 0; waited < grace_ms && LivePid(pidfile, marker); waited += 100)
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  if (int still = LivePid(pidfile, marker)) ::kill(still, SIGKILL);
}

}  // namespace berth::hosts::local
