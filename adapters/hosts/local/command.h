// Running the machine's own tools (ip, nsenter, iptables, openssl) for the local driver:
// argv only, never a shell; output captured; every run has a time limit.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "eventlog/status.h"

namespace berth::hosts::local {

struct CommandResult {
  int exit_code = 0;   // 128 + signal when killed
  std::string output;  // stdout and stderr, interleaved, at most 64 KiB kept
};

// Runs argv[0] (looked up in PATH) with `argv`, waits at most `timeout_ms` (then SIGKILL:
// kTimeout). kNotFound when the program does not exist.
Result<CommandResult> Run(const std::vector<std::string>& argv, int64_t timeout_ms = 30'000);

// Run, and kFailed unless it exits 0 (the message names the command and its output's tail).
Status RunOk(const std::vector<std::string>& argv, int64_t timeout_ms = 30'000);

// Starts argv detached (its own session, stdio to `log_path`), returning its pid.
Result<int> Spawn(const std::vector<std::string>& argv, const std::string& log_path);

// The whole file ("" when it cannot be read); and one written whole (kFailed naming it).
std::string ReadFile(const std::string& path);
Status WriteFile(const std::string& path, const std::string& text);

// The pid in `pidfile` when it is a live process whose command line contains `marker`
// (a pid the kernel gave to another program since is not ours); else 0.
int LivePid(const std::string& pidfile, const std::string& marker);

// SIGTERM, then SIGKILL once `grace_ms` passed, to the process LivePid names; returns when
// it is gone (or after the SIGKILL).
void StopPid(const std::string& pidfile, const std::string& marker, int64_t grace_ms);

}  // namespace berth::hosts::local
