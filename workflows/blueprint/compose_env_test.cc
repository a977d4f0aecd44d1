// Env files as Compose reads them: the syntax, the `.env` beside the file and --env-file
// (below the process environment, interpolated unless single-quoted), and `env_file:`.
#include "workflows/blueprint/compose_reader.h"
#include "workflows/blueprint/compose_test_fixture.h"

namespace berth::workflows {
namespace {

// Its own suite: gtest wants one fixture class per suite, and the fixture's tests of other
// keys are in compose_compat_test.cc.
class EnvFileLoadTest : public ComposeCompatTest {};

TEST(EnvFileTest, LinesCommentsQuotesAndExport) {
  Vars v;
  ASSERT_EQ(compose::ParseEnvFile("# a comment\n\nA=1\nexport B = two words \nC='x # y'\n"
                                  "D=\"l1\\nl2 \\\"q\\\"\"\nE=v # trailing\nF\nG=\n",
                                  &v),
            "");
  Vars want = {{"A", "1"},        {"B", "two words"}, {"C", "x # y"}, {"D", "l1\nl2 \"q\""},
               {"E", "v"},        {"F", std::nullopt}, {"G", ""}};
  EXPECT_EQ(v, want);
}

TEST(EnvFileTest, BadLinesNameTheLine) {
  Vars v;
  EXPECT_EQ(compose::ParseEnvFile("A=1\nB='open\n", &v),
            "line 2: the value of B opens a quote it does not close");
  EXPECT_EQ(compose::ParseEnvFile("=x\n", &v), "line 1: '' is not a variable name");
  EXPECT_EQ(compose::ParseEnvFile("A='x' y\n", &v), "line 1: text after the quoted value of A");
}

TEST_F(EnvFileLoadTest, DotEnvBesideTheFileFeedsInterpolationBelowTheProcess) {
  Write(dir_.path() / ".env", "BERTH_CC_TAG=1.25\nBERTH_CC_MODE=from-file\n");
  setenv("BERTH_CC_MODE", "from-shell", 1);
  auto b = Load("services:\n  web:\n    image: nginx:${BERTH_CC_TAG}\n"
                "    environment: [\"MODE=${BERTH_CC_MODE}\"]\n");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->services[0].image, "nginx:1.25");
  EXPECT_EQ(b->services[0].environment.at("MODE"), "from-shell") << "the shell wins, as in Compose";
  EXPECT_TRUE(diags_.empty()) << AllErrors(diags_);
}

TEST_F(EnvFileLoadTest, EnvFileOptionReplacesDotEnvAndALaterOneWins) {
  Write(dir_.path() / ".env", "BERTH_CC_TAG=dot\n");
  Write(dir_.path() / "a.env", "BERTH_CC_TAG=a\n");
  Write(dir_.path() / "b.env", "BERTH_CC_TAG=b\n");
  LoadOptions o;
  o.env_files = {(dir_.path() / "a.env").string(), (dir_.path() / "b.env").string()};
  auto b = Load("services:\n  web:\n    image: nginx:${BERTH_CC_TAG}\n", o);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->services[0].image, "nginx:b");
  o.env_files = {(dir_.path() / "missing.env").string()};
  ExpectRefused("services:\n  web:\n    image: nginx\n", "missing.env", o);
}

TEST_F(EnvFileLoadTest, ABrokenDotEnvIsAnErrorAtItsLine) {
  Write(dir_.path() / ".env", "A=1\nB=\"open\n");
  ExpectRefused("services:\n  web:\n    image: nginx\n", ".env:2:1: error: env file: line 2:");
}

TEST_F(EnvFileLoadTest, ServiceEnvFileInEveryFormBelowEnvironment) {
  Write(dir_.path() / "common.env", "A=common\nB=common\nBERTH_CC_MODE\n");
  Write(dir_.path() / "web.env", "B=web\n");
  setenv("BERTH_CC_MODE", "shell", 1);
  auto b = Load(R"(
services:
  one:
    image: x
    env_file: common.env
  two:
    image: x
    env_file: [common.env, web.env]
    environment: {A: explicit}
  three:
    image: x
    env_file:
      - path: web.env
      - path: absent.env
        required: false
)");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  std::map<std::string, std::string> one = {{"A", "common"}, {"B", "common"}, {"BERTH_CC_MODE", "shell"}};
  EXPECT_EQ(b->services[0].environment, one);
  EXPECT_EQ(b->services[1].environment.at("A"), "explicit");
  EXPECT_EQ(b->services[1].environment.at("B"), "web");
  EXPECT_EQ(b->services[2].environment, (std::map<std::string, std::string>{{"B", "web"}}));
  ExpectRefused("services:\n  web:\n    image: x\n    env_file: nope.env\n", "compose.yaml:4:15: error: services.web.env_file: cannot read ");
}

TEST_F(EnvFileLoadTest, DotEnvValuesAreInterpolatedUnlessSingleQuoted) {
  Write(dir_.path() / ".env", "BERTH_CC_TAG=\"${BERTH_CC_TAG:-1.0}\"\nBERTH_CC_MODE='${literal}'\nBERTH_CC_X=${BERTH_CC_TAG}-x\n");
  auto b = Load("services:\n  web:\n    image: nginx:${BERTH_CC_X}\n    environment: [\"M=${BERTH_CC_MODE}\"]\n");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(b->services[0].image, "nginx:1.0-x");
  EXPECT_EQ(b->services[0].environment.at("M"), "${literal}");
}

}  // namespace
}  // namespace berth::workflows
