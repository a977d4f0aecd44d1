#include "adapters/docker/build_context.h"

#include "adapters/docker/dockerignore.h"

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
    } else if (archive_entry_filetype(e) == AE_IFLNK) {
      content = std::string("-> ") + archive_entry_symlink(e);
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

TEST(DockerIgnoreTest, DockersPatternRules) {
  DockerIgnore d = DockerIgnore::Parse(
      "# comment\n\n.env\n*.log\n/build/\n**/node_modules\ndocs/**/*.tmp\n!keep.log\ntemp?\n[ab].txt\n");
  EXPECT_TRUE(d.Excluded(".env"));
  EXPECT_FALSE(d.Excluded("sub/.env")) << "a pattern without ** matches from the root only";
  EXPECT_TRUE(d.Excluded("x.log"));
  EXPECT_FALSE(d.Excluded("sub/x.log"));
  EXPECT_FALSE(d.Excluded("keep.log")) << "the last matching rule, an exception, wins";
  EXPECT_TRUE(d.Excluded("build"));
  EXPECT_TRUE(d.Excluded("build/out/a.o")) << "what an excluded folder holds is excluded";
  EXPECT_TRUE(d.Excluded("node_modules/x/index.js"));
  EXPECT_TRUE(d.Excluded("web/app/node_modules"));
  EXPECT_TRUE(d.Excluded("docs/a/b/c.tmp"));
  EXPECT_TRUE(d.Excluded("docs/c.tmp")) << "**/ matches zero folders too";
  EXPECT_TRUE(d.Excluded("temp1"));
  EXPECT_FALSE(d.Excluded("temp12"));
  EXPECT_TRUE(d.Excluded("a.txt"));
  EXPECT_FALSE(d.Excluded("c.txt"));
  EXPECT_FALSE(d.Excluded("Dockerfile"));
  std::string error;
  DockerIgnore::Parse("[unclosed\n", &error);
  EXPECT_NE(error.find("pattern '[unclosed' cannot be read"), std::string::npos);
}

// The findings: .dockerignore was not read (a .env reached the image), and names came
// from fs::relative, which follows links (etclink -> /etc was sent as ../../../../etc).
TEST(BuildContextTest, DockerignoreIsHonouredAndSymlinksAreSentAsSymlinks) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("berth-ctx-ign-" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "node_modules" / "pkg");
  fs::create_directories(dir / "src");
  std::ofstream(dir / "Dockerfile") << "FROM x\n";
  std::ofstream(dir / ".env") << "SECRET=1\n";
  std::ofstream(dir / "node_modules" / "pkg" / "index.js") << "x";
  std::ofstream(dir / "src" / "main.c") << "int main;";
  std::ofstream(dir / ".dockerignore") << ".env\nnode_modules\nDockerfile\n.dockerignore\n";
  fs::create_symlink("/etc", dir / "etclink");
  fs::create_symlink("main.c", dir / "src" / "sibling");
  BuildContext ctx;
  ASSERT_TRUE(ctx.AddDirectory(dir.string(), {"Dockerfile", ".dockerignore"}).ok());
  auto files = Untar(ctx.Finish().value());
  fs::remove_all(dir);
  EXPECT_EQ(files.count(".env"), 0u) << "the ignored .env was sent";
  EXPECT_EQ(files.count("node_modules/pkg/index.js"), 0u);
  EXPECT_EQ(files.count("node_modules/"), 0u);
  EXPECT_EQ(files["Dockerfile"], "FROM x\n") << "the Dockerfile is always sent";
  EXPECT_EQ(files.count(".dockerignore"), 1u);
  EXPECT_EQ(files["src/main.c"], "int main;");
  EXPECT_EQ(files["etclink"], "-> /etc");
  EXPECT_EQ(files["src/sibling"], "-> main.c");
}

}  // namespace
}  // namespace berth::docker
