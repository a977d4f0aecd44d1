// BuildContext: the tar archive POST /build takes, made with libarchive.
//
// Add files from memory (a generated Dockerfile) or copy a directory tree from disk, then
// take the archive with Finish(). Entries are written in the order added, with uid/gid 0
// and fixed mtimes so the same inputs give the same bytes (and the same build cache keys).
// Not thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "eventlog/status.h"

struct archive;

namespace berth::docker {

class BuildContext {
 public:
  BuildContext();
  ~BuildContext();
  BuildContext(const BuildContext&) = delete;
  BuildContext& operator=(const BuildContext&) = delete;

  // Adds a regular file at `path` (relative, "/"-separated; parents are implied).
  Status AddFile(std::string_view path, std::string_view content, int mode = 0644);
  // Adds every regular file, directory and symlink under `dir`, named relative to it (a
  // symlink as a symlink with its own target), leaving out what `dir/.dockerignore` excludes
  // (dockerignore.h) except the paths in `always` (the Dockerfile and .dockerignore, which
  // `docker build` always sends). kNotFound when dir does not exist; kIOError when a file
  // cannot be read; kInvalidArgument for a .dockerignore pattern that cannot be read.
  Status AddDirectory(const std::string& dir, const std::vector<std::string>& always = {});
  // Ends the archive and returns it. Call once; later Adds fail.
  Result<std::string> Finish();

 private:
  Status AddEntry(std::string_view path, int type, int mode, std::string_view content,
                  const std::string& link_target);

  struct archive* archive_ = nullptr;
  std::string bytes_;
  bool finished_ = false;
};

}  // namespace berth::docker
