#include "adapters/docker/build_context.h"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

namespace berth::docker {
namespace {

// Reads a tar back: path -> content ("<dir>" for folders).
std::map<std::string, std::string> Untar(const std::string& tar) {
  std::map<std::string, std::string> out;
  archive* a = archive_read_new();
  archive_read_support_format_tar(a);
  EXPECT_EQ(archive_read_open_memory(a, tar.data(), tar.size()), ARCHIVE_OK);
  archive_entry* e = nullptr;
  while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
    std::string content;
    if (archive_entry_filetype(e) == AE_IFDIR) {
      content = "<dir>";
    } else {
      char buf[4096];
      la_ssize_t n;
      while ((n = archive_read_data(a, buf, sizeof buf)) > 0) content.append(buf, n);
    }
    out[archive_entry_pathname(e)] = content;
  }
  archive_read_free(a);
  return out;
}

TEST(BuildContextTest, FilesFromMemoryRoundTrip) {
  BuildContext ctx;
  ASSERT_TRUE(ctx.AddFile("Dockerfile", "FROM scratch\n").ok());
  ASSERT_TRUE(ctx.AddFile("app/run.sh", "#!/bin/sh\necho hi\n", 0755).ok());
  Result<std::string> tar = ctx.Finish();
  ASSERT_TRUE(tar.ok());
  auto files = Untar(*tar);
  EXPECT_EQ(files["Dockerfile"], "FROM scratch\n");
  EXPECT_EQ(files["app/run.sh"], "#!/bin/sh\necho hi\n");
}

TEST(BuildContextTest, AbsolutePathIsRefused) {
  BuildContext ctx;
  EXPECT_EQ(ctx.AddFile("/etc/passwd", "x").code(), Code::kInvalidArgument);
}

TEST(BuildContextTest, DirectoryTreeIsCopied) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("berth-ctx-" + std::to_string(getpid()));
  fs::create_directories(dir / "sub");
  std::ofstream(dir / "Dockerfile") << "FROM x\n";
  std::ofstream(dir / "sub" / "empty");
  BuildContext ctx;
  ASSERT_TRUE(ctx.AddDirectory(dir.string()).ok());
  auto files = Untar(ctx.Finish().value());
  fs::remove_all(dir);
  EXPECT_EQ(files["Dockerfile"], "FROM x\n");
  EXPECT_EQ(files["sub/"], "<dir>");  // tar names folders with a trailing /
  EXPECT_EQ(files["sub/empty"], "");
}

TEST(BuildContextTest, MissingDirectoryIsNotFound) {
  BuildContext ctx;
  EXPECT_EQ(ctx.AddDirectory("/nonexistent/berth").code(), Code::kNotFound);
}

}  // namespace
}  // namespace berth::docker
