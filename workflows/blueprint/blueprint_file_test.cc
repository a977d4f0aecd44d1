// The file as a whole: every problem with its line and column, node types, duplicate keys,
// anchors, malformed or non-UTF-8 YAML, one document, empty and missing files, the example
// app, and garbage that must never crash the loader.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/scratch_dir.h"
#include "workflows/blueprint/blueprint.h"
#include "workflows/blueprint/blueprint_test_util.h"
#include "workflows/blueprint/compose_reader.h"

namespace berth::workflows {
namespace {

using namespace blueprint_test;

TEST(BlueprintTest, EveryProblemIsReportedWithLineAndColumn) {
  const std::string yaml = R"(services:
  web:
    image: x
    ports: ["99999"]
  db:
    restart: sometimes
    image: y
  bad name:
    image: z
)";
  Result<Blueprint> b = Parse(yaml);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(b.status().message(),
            "shop.yaml: 3 problems\n"
            "shop.yaml:4:13: error: services.web.ports[0]: '99999': '99999' is not a port "
            "(1..65535) or a range of them (LOW-HIGH)\n"
            "shop.yaml:6:14: error: services.db.restart: 'sometimes' is not a restart policy (no, "
            "always, unless-stopped, on-failure[:N])\n"
            "shop.yaml:8:3: error: services.bad name: service name 'bad name' must match "
            "[a-zA-Z0-9][a-zA-Z0-9_.-]*");
}

TEST(BlueprintTest, WrongNodeTypesNameTheKeyPath) {
  std::vector<Diagnostic> e = Errors(R"(
services:
  web:
    image: [x]
    ports: ["80", {target: {a: 1}}]
    environment: 5
    command: {a: b}
)");
  ASSERT_EQ(e.size(), 4u);
  EXPECT_EQ(e[0].ToString(),
            "shop.yaml:4:12: error: services.web.image: expected a string, "
            "found a list");
  EXPECT_EQ(e[1].message, "services.web.ports[1].target: expected a string, found a map");
  EXPECT_NE(e[2].message.find("services.web.environment: expected a map or a list"),
            std::string::npos);
  EXPECT_NE(e[3].message.find("services.web.command: expected a list, found a map"),
            std::string::npos);
}

TEST(BlueprintTest, DuplicateKeysAreErrors) {
  EXPECT_EQ(OneError("services:\n  web:\n    image: a\n    image: b\n"),
            "shop.yaml:4:5: error: services.web.image: duplicate key 'image'");
}

TEST(BlueprintTest, AnchorsAndMergeKeysWork) {
  Blueprint b = Good(R"(
x-common: &common
  image: base
  restart: always
services:
  a:
    <<: *common
    restart: "no"
  b: *common
)");
  EXPECT_EQ(b.services[0].image, "base");
  EXPECT_EQ(b.services[0].restart, "no");
  EXPECT_EQ(b.services[1].restart, "always");
}

TEST(BlueprintTest, MalformedYamlReportsWhere) {
  EXPECT_EQ(OneError("services:\n  web: [a, b\n  db: {image: x}\n").substr(0, 12), "shop.yaml:3:");
}

TEST(BlueprintTest, OneDocumentPerFile) {
  EXPECT_EQ(OneError("services: {web: {image: x}}\n---\nname: two\n"),
            "shop.yaml:2:1: error: more than one YAML document (---)");
  EXPECT_TRUE(Parse("---\nservices: {web: {image: x}}\n---\n").ok());
}

// yaml-cpp 0.7 reads this as an empty document, and its LoadAll loops forever on it.
TEST(BlueprintTest, LeadingCommaIsAnErrorNotAnEmptyFileOrAHang) {
  EXPECT_EQ(OneError("# compose\n,services: {web: {image: x}}\n"),
            "shop.yaml:2:1: error: YAML: the document could not be parsed");
}

TEST(BlueprintTest, InvalidUtf8IsAnErrorWithItsPlace) {
  EXPECT_EQ(OneError("services:\n  web: {image: \"ng\xffinx\"}\n"),
            "shop.yaml:2:19: error: the file is not valid UTF-8");
  EXPECT_TRUE(Parse("services: {web: {image: x, labels: {caf\xc3\xa9: \xe2\x9c\x93}}}").ok());
  EXPECT_NE(compose::InvalidUtf8Offset("\xc0\x80"), std::string::npos);      // overlong
  EXPECT_NE(compose::InvalidUtf8Offset("\xed\xa0\x80"), std::string::npos);  // surrogate
}

TEST(BlueprintTest, AnEmptyFileIsAnErrorAndNoServicesAWarning) {
  EXPECT_NE(OneError("").find("the file is empty"), std::string::npos);
  EXPECT_NE(OneError("# nothing\n").find("the file is empty"), std::string::npos);
  // Compose takes files of networks and volumes alone (compose-v1 fixtures no-services,
  // volumes); `berth up` refuses them (tools/berth/apps.cc).
  for (const char* text : {"name: x\n", "services: {}\n", "networks:\n  foo: {}\n"}) {
    std::vector<Diagnostic> d;
    auto b = ParseBlueprint(text, "x.yaml", "/tmp", "x", &d);
    ASSERT_TRUE(b.ok()) << text << b.status().ToString();
    EXPECT_TRUE(b->services.empty());
    ASSERT_EQ(d.size(), 1u) << text;
    EXPECT_EQ(d[0].severity, Diagnostic::kWarning);
    EXPECT_NE(d[0].message.find("nothing to run"), std::string::npos) << d[0].message;
  }
  EXPECT_NE(OneError("services:\n  web:\n").find("needs `image` or `build`"), std::string::npos);
  // No `services` and a service-like map: the v1 format (compose-v1 fixture
  // override-yaml-files' override file has neither image nor build).
  EXPECT_NE(OneError("version: '2'\ndb:\n  environment: [A=1]\n").find("Compose v1 format"), std::string::npos);
}

TEST(BlueprintTest, MissingFileIsNotFound) {
  std::vector<Diagnostic> d;
  Result<Blueprint> b = LoadBlueprint("/nonexistent/berth/compose.yaml", "", &d);
  EXPECT_EQ(b.status().code(), Code::kNotFound);
  EXPECT_EQ(b.status().message(),
            "cannot read /nonexistent/berth/compose.yaml: No such file or directory");
  EXPECT_EQ(d.size(), 1u);
}

TEST(BlueprintTest, LoadBlueprintResolvesAgainstTheFilesDirectory) {
  berth::testing::ScratchDir dir("blueprint");
  std::filesystem::create_directories(dir.path() / "My_App");
  std::string path = (dir.path() / "My_App" / "compose.yaml").string();
  std::ofstream(path) << "services:\n  web:\n    build: .\n    volumes: [./data:/data]\n";
  Result<Blueprint> b = LoadBlueprint(path, "", nullptr);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->name, "my_app");
  EXPECT_EQ(b->file, path);
  EXPECT_EQ(b->services[0].build->context, (dir.path() / "My_App").string());
  EXPECT_EQ(b->services[0].volumes[0].source, (dir.path() / "My_App" / "data").string());
}

TEST(BlueprintTest, TheExampleAppLoadsWithoutWarnings) {
  std::vector<Diagnostic> d;
  Result<Blueprint> b = LoadBlueprint(BERTH_SOURCE_DIR "/docs/examples/shop/compose.yaml", "", &d);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_TRUE(d.empty()) << d[0].ToString();
  EXPECT_EQ(b->name, "shop");
  EXPECT_EQ(b->Levels(), (std::vector<std::vector<std::string>>{{"api"}, {"web"}, {"proxy"}}));
  EXPECT_EQ(b->FindService("web")->customize,
            std::vector<std::string>{"echo \"$BERTH_INSTANCE\" > /srv/www/id"});
}

TEST(BlueprintTest, GarbageNeverCrashes) {
  std::string binary;
  for (int i = 0; i < 512; ++i) binary += static_cast<char>((i * 131) & 0xff);
  const std::vector<std::string> inputs = {
      binary,
      std::string(100000, '['),
      std::string(5000, '[') + std::string(5000, ']'),
      "just a scalar",
      "\tservices:\n\t\tweb: x\n",
      "- a\n- b\n",
      "services: [web, db]\n",
      "services: {web: 5}\n",
      "? [a, b]\n: c\n",
      "a: &x {<<: *x}\n",
      "services: {w: {image: x, <<: 5}}\n",
      "--- a\n--- b\n",
      ",",
      "a: b\n---\n,\n",
      std::string("services:\0 {}", 13),
  };
  for (const std::string& in : inputs) {
    std::vector<Diagnostic> d;
    Result<Blueprint> b = Parse(in, &d);
    EXPECT_FALSE(b.ok()) << in.substr(0, 40);
    EXPECT_FALSE(d.empty());
  }
}

}  // namespace
}  // namespace berth::workflows
