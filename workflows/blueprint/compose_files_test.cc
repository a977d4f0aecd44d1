// Compose `configs` and `secrets`: files on the host mounted read-only, as Compose does
// without Swarm (compose-v2 fixtures bridge, TestPublishDetectSensitiveData).
#include <nlohmann/json.hpp>
#include <string>

#include "workflows/blueprint/compose_test_fixture.h"

namespace berth::workflows {
namespace {

TEST_F(ComposeCompatTest, ConfigsAndSecretsAreReadOnlyMountsOfTheirFiles) {
  Write(dir_.path() / "app.conf", "conf\n");
  Write(dir_.path() / "token.txt", "s3cret\n");
  auto b = Load(R"(
services:
  web:
    image: x
    configs:
      - app
      - {source: app, target: /etc/app/app.conf, mode: 0440}
      - {source: app, target: relative.conf}
    secrets: [token, {source: token, target: api-token}]
configs:
  app: {file: ./app.conf}
secrets:
  token: {file: token.txt, name: ignored-without-swarm}
)");
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  const auto& v = b->services[0].volumes;
  ASSERT_EQ(v.size(), 5u);
  const std::string conf = (dir_.path() / "app.conf").string(), token = (dir_.path() / "token.txt").string();
  auto at = [&](size_t i, const std::string& source, const std::string& target) {
    EXPECT_EQ(v[i].source, source) << i;
    EXPECT_EQ(v[i].target, target) << i;
    EXPECT_TRUE(v[i].read_only) << i;
    EXPECT_FALSE(v[i].named) << i;
  };
  at(0, conf, "/app");
  at(1, conf, "/etc/app/app.conf");
  at(2, conf, "/relative.conf");
  at(3, token, "/run/secrets/token");
  at(4, token, "/run/secrets/api-token");
  bool warned = false;
  for (const Diagnostic& d : diags_) warned |= d.message.find("uid, gid and mode are not applied") != std::string::npos;
  EXPECT_TRUE(warned);
  auto back = BlueprintFromJson(ToJson(*b));
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(back->services[0].volumes.size(), 5u) << "recorded as the mounts they became";
}

TEST_F(ComposeCompatTest, ConfigsAndSecretsRefuseWhatCannotBeMounted) {
  ExpectRefused("services:\n  web:\n    image: x\n    secrets: [nope]\n",
                "secret 'nope' is not declared under top-level secrets");
  ExpectRefused("services:\n  web:\n    image: x\n    configs: [gone]\nconfigs:\n  gone: {file: ./missing.txt}\n",
                "config gone: file " + (dir_.path() / "missing.txt").string() +
                    " does not exist or is not a file (mounting a missing file would make an empty directory");
  ExpectRefused("services:\n  web:\n    image: x\nsecrets:\n  s: {external: true}\n",
                "an external secret is a Swarm object");
  ExpectRefused("services:\n  web:\n    image: x\nconfigs:\n  c: {content: hello}\n",
                "config c: `content` is not supported yet");
  ExpectRefused("services:\n  web:\n    image: x\nconfigs:\n  c: {}\n", "config c needs `file: PATH`");
  ExpectRefused("services:\n  web:\n    image: x\n    configs: [{target: /x}]\nconfigs:\n  c: {file: a}\n",
                "config reference without a `source`");
}

}  // namespace
}  // namespace berth::workflows
