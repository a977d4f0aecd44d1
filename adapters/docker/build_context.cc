#include "adapters/docker/build_context.h"

#include "adapters/docker/dockerignore.h"

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <system_error>
#include <vector>

namespace berth::docker {
namespace {

constexpr time_t kFixedMtime = 0;

la_ssize_t AppendBytes(struct archive*, void* user, const void* buf, size_t n) {
  static_cast<std::string*>(user)->append(static_cast<const char*>(buf), n);
  return static_cast<la_ssize_t>(n);
}

Status ArchiveError(struct archive* a, std::string_view what) {
  return IOError("tar " + std::string(what) + ": " + archive_error_string(a));
}

}  // namespace

BuildContext::BuildContext() {
  archive_ = archive_write_new();
  archive_write_set_format_pax_restricted(archive_);   // ustar, pax headers for long names
  archive_write_set_bytes_in_last_block(archive_, 1);  // no padding to 10 KiB
  archive_write_open(archive_, &bytes_, nullptr, &AppendBytes, nullptr);
}

BuildContext::~BuildContext() { archive_write_free(archive_); }

Status BuildContext::AddEntry(std::string_view path, int type, int mode, std::string_view content,
                              const std::string& link_target) {
  if (finished_) return InvalidArgument("BuildContext: Add after Finish");
  if (path.empty() || path.front() == '/') {
    return InvalidArgument("BuildContext: path must be relative: \"" + std::string(path) + "\"");
  }
  std::unique_ptr<archive_entry, decltype(&archive_entry_free)> entry(archive_entry_new(),
                                                                      &archive_entry_free);
  archive_entry_set_pathname(entry.get(), std::string(path).c_str());
  archive_entry_set_filetype(entry.get(), type);
  archive_entry_set_perm(entry.get(), mode);
  archive_entry_set_uid(entry.get(), 0);
  archive_entry_set_gid(entry.get(), 0);
  archive_entry_set_mtime(entry.get(), kFixedMtime, 0);
  if (type == AE_IFLNK) archive_entry_set_symlink(entry.get(), link_target.c_str());
  archive_entry_set_size(entry.get(),
                         type == AE_IFREG ? static_cast<la_int64_t>(content.size()) : 0);
  if (archive_write_header(archive_, entry.get()) != ARCHIVE_OK) {
    return ArchiveError(archive_, "header for " + std::string(path));
  }
  if (type == AE_IFREG && !content.empty() &&
      archive_write_data(archive_, content.data(), content.size()) < 0) {
    return ArchiveError(archive_, "data for " + std::string(path));
  }
  return Status::Ok();
}

Status BuildContext::AddFile(std::string_view path, std::string_view content, int mode) {
  return AddEntry(path, AE_IFREG, mode, content, "");
}

Status BuildContext::AddDirectory(const std::string& dir, const std::vector<std::string>& always) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return NotFound("build context " + dir + " is not a folder");
  DockerIgnore ignore;
  if (std::ifstream in(fs::path(dir) / ".dockerignore", std::ios::binary); in) {
    std::ostringstream text;
    text << in.rdbuf();
    std::string error;
    ignore = DockerIgnore::Parse(text.str(), &error);
    if (!error.empty()) return InvalidArgument(dir + "/.dockerignore: " + error);
  }
  const bool walk_excluded = ignore.has_exceptions();
  // Sorted, so the archive does not depend on directory order. Names are taken lexically
  // (fs::relative would follow symlinks: a link to /etc would be named ../../etc).
  std::vector<std::pair<std::string, fs::path>> paths;
  for (auto it = fs::recursive_directory_iterator(dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::string rel = it->path().lexically_relative(dir).generic_string();
    bool kept = std::find(always.begin(), always.end(), rel) != always.end();
    if (!kept && ignore.Excluded(rel)) {
      std::error_code e2;
      if (!walk_excluded && it->is_directory(e2) && !it->is_symlink(e2)) it.disable_recursion_pending();
      continue;
    }
    paths.emplace_back(rel, it->path());
  }
  if (ec) return IOError("listing " + dir + ": " + ec.message());
  std::sort(paths.begin(), paths.end());
  for (const auto& [rel, p] : paths) {
    fs::file_status st = fs::symlink_status(p, ec);
    int mode = static_cast<int>(st.permissions() & fs::perms::mask);
    Status s;
    if (fs::is_symlink(st)) {
      s = AddEntry(rel, AE_IFLNK, 0777, "", fs::read_symlink(p, ec).string());
    } else if (fs::is_directory(st)) {
      s = AddEntry(rel, AE_IFDIR, mode, "", "");
    } else if (fs::is_regular_file(st)) {
      std::ifstream in(p, std::ios::binary);
      std::ostringstream content;
      content << in.rdbuf();
      if (!in.good() && !in.eof()) return IOError("reading " + p.string());
      s = AddEntry(rel, AE_IFREG, mode, content.str(), "");
    }  // sockets, fifos and devices have no place in a build context: skipped.
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

Result<std::string> BuildContext::Finish() {
  if (finished_) return InvalidArgument("BuildContext: Finish called twice");
  finished_ = true;
  if (archive_write_close(archive_) != ARCHIVE_OK) return ArchiveError(archive_, "close");
  return std::move(bytes_);
}

}  // namespace berth::docker
