// Engine API JSON shapes: what Berth sends, and how it reads answers (no daemon needed).
#include <gtest/gtest.h>

#include "adapters/docker/api_error.h"
#include "adapters/docker/container_json.h"
#include "adapters/docker/json_stream.h"
#include "adapters/docker/network_json.h"

namespace berth::docker {
namespace {

TEST(ContainerJsonTest, CreateBodyCarriesEveryField) {
  ContainerSpec s;
  s.image = "berth/busybox:test";
  s.cmd = std::vector<std::string>{"httpd", "-f"};
  s.entrypoint = std::vector<std::string>{};
  s.env = {"A=1"};
  s.labels = {{"berth.key", "wf/step"}};
  s.ports = {{80, "tcp", true, "127.0.0.1", 8080}, {81, "udp", false, "", 0}};
  s.network = "berth";
  s.ipv4_address = "10.77.0.5";
  s.aliases = {"web"};
  s.init = true;
  s.stop_signal = "SIGINT";
  s.restart = {"on-failure", 3};
  s.healthcheck = Healthcheck{{"CMD-SHELL", "true"}, 1000, 500, 0, 2};
  json b = ContainerCreateBody(s);
  EXPECT_EQ(b["Entrypoint"], json::array({""}));
  EXPECT_EQ(b["Labels"]["berth.key"], "wf/step");
  EXPECT_TRUE(b["ExposedPorts"].contains("81/udp"));
  EXPECT_EQ(b["HostConfig"]["PortBindings"]["80/tcp"][0]["HostIp"], "127.0.0.1");
  EXPECT_EQ(b["HostConfig"]["PortBindings"]["80/tcp"][0]["HostPort"], "8080");
  EXPECT_FALSE(b["HostConfig"]["PortBindings"].contains("81/udp"));
  EXPECT_EQ(b["HostConfig"]["RestartPolicy"]["MaximumRetryCount"], 3);
  EXPECT_EQ(b["HostConfig"]["Init"], true);
  EXPECT_EQ(b["NetworkingConfig"]["EndpointsConfig"]["berth"]["IPAMConfig"]["IPv4Address"],
            "10.77.0.5");
  EXPECT_EQ(b["Healthcheck"]["Interval"], 1'000'000'000);
  EXPECT_FALSE(b["NetworkingConfig"]["EndpointsConfig"]["berth"].contains("NetworkID"));
  // Joined by id: the engine's every start then finds the network by id, not by its name
  // (which two networks may share).
  s.network_id = "0123abcd";
  b = ContainerCreateBody(s);
  EXPECT_EQ(b["HostConfig"]["NetworkMode"], "0123abcd");
  EXPECT_EQ(b["NetworkingConfig"]["EndpointsConfig"]["0123abcd"]["NetworkID"], "0123abcd");
  EXPECT_EQ(b["NetworkingConfig"]["EndpointsConfig"]["0123abcd"]["Aliases"], json::array({"web"}));
}

TEST(ContainerJsonTest, ExtraFieldsGoInAsTheyAreAndNamedFieldsWin) {
  ContainerSpec s;
  s.image = "x";
  s.init = true;
  s.extra_host_config = {{"CapAdd", R"(["NET_ADMIN"])"}, {"Init", "false"}, {"ShmSize", "67108864"}};
  s.extra_config = {{"Tty", "true"}, {"Image", R"("other")"}};
  json b = ContainerCreateBody(s);
  EXPECT_EQ(b["HostConfig"]["CapAdd"], json::array({"NET_ADMIN"}));
  EXPECT_EQ(b["HostConfig"]["ShmSize"], 67108864);
  EXPECT_EQ(b["HostConfig"]["Init"], true) << "init: a named field wins";
  EXPECT_EQ(b["Tty"], true);
  EXPECT_EQ(b["Image"], "x");
}

TEST(ContainerJsonTest, InspectToleratesNulls) {
  json j = json::parse(R"({"Id":"abc","Name":"/web","Image":"sha256:1",
    "Config":{"Image":"busybox","Labels":null},
    "State":{"Status":"running","Running":true,"ExitCode":0,"Health":{"Status":"healthy"}},
    "NetworkSettings":{"IPAddress":"","Ports":{"80/tcp":[{"HostIp":"127.0.0.1","HostPort":"49153"}],"81/tcp":null},
      "Networks":{"berth":{"NetworkID":"n1","IPAddress":"10.77.0.5","Aliases":null}}}})");
  ContainerInfo c = ContainerFromInspect(j);
  EXPECT_EQ(c.name, "web");
  EXPECT_EQ(c.state.health, "healthy");
  EXPECT_TRUE(c.labels.empty());
  EXPECT_EQ(c.ip_address, "10.77.0.5");
  ASSERT_EQ(c.ports.size(), 1u);
  EXPECT_EQ(c.ports[0].host_port, 49153);
}

TEST(ContainerJsonTest, ListReadsHealthFromStatusText) {
  json j = json::parse(R"js({"Id": "abc", "Names": ["/shop-web-1"], "State": "running",
                           "Status": "Up 2 minutes (health: starting)", "Labels": null})js");
  ContainerInfo c = ContainerFromList(j);
  EXPECT_EQ(c.name, "shop-web-1");
  EXPECT_TRUE(c.state.running);
  EXPECT_EQ(c.state.health, "starting");
  j["Status"] = "Up 3 minutes (unhealthy)";
  EXPECT_EQ(ContainerFromList(j).state.health, "unhealthy");
  j["Status"] = "Up 3 minutes (healthy)";
  EXPECT_EQ(ContainerFromList(j).state.health, "healthy");
  j["Status"] = "Exited (0) 5 seconds ago";
  EXPECT_EQ(ContainerFromList(j).state.health, "");
}

TEST(NetworkJsonTest, CreateBodyAsksForDuplicateCheck) {
  NetworkSpec n;
  n.name = "berth";
  n.subnet = "10.77.0.0/16";
  n.options = {{"com.docker.network.bridge.name", "br-berth"}};
  json b = NetworkCreateBody(n);
  EXPECT_EQ(b["CheckDuplicate"], true);
  EXPECT_EQ(b["IPAM"]["Config"][0]["Subnet"], "10.77.0.0/16");
  EXPECT_EQ(b["Options"]["com.docker.network.bridge.name"], "br-berth");
}

TEST(ApiErrorTest, MapsStatusAndKeepsEngineMessage) {
  Status nf = ApiError(404, R"({"message":"No such container: x"})", "GET /containers/x/json");
  EXPECT_EQ(nf.code(), Code::kNotFound);
  EXPECT_NE(nf.message().find("No such container: x"), std::string::npos);
  EXPECT_EQ(ApiError(409, "{}", "x").code(), Code::kConflict);
  EXPECT_EQ(ApiError(409, R"({"message":"removal of container abc is already in progress"})", "x").code(),
            Code::kUnavailable);
  Status other = ApiError(500, "plain text\n", "x");
  EXPECT_EQ(other.code(), Code::kFailed);
  EXPECT_NE(other.message().find("plain text"), std::string::npos);
}

TEST(JsonStreamTest, MessagesSplitAcrossChunks) {
  std::vector<std::string> got;
  JsonStream s([&](const json& m) {
    got.push_back(m["a"].get<std::string>());
    return true;
  });
  EXPECT_TRUE(s.Feed("{\"a\":\"1\"}\r\n{\"a\""));
  EXPECT_TRUE(s.Feed(":\"2\"}\n{\"a\":\"3\"}"));
  EXPECT_TRUE(s.Finish().ok());
  EXPECT_EQ(got, (std::vector<std::string>{"1", "2", "3"}));
}

TEST(JsonStreamTest, CallbackStopsTheStream) {
  int n = 0;
  JsonStream s([&](const json&) { return ++n < 2; });
  EXPECT_FALSE(s.Feed("{}\n{}\n{}\n"));
  EXPECT_EQ(n, 2);
}

TEST(JsonStreamTest, GarbageIsAnError) {
  JsonStream s([](const json&) { return true; });
  EXPECT_FALSE(s.Feed("not json\n"));
  EXPECT_EQ(s.status().code(), Code::kFailed);
}

TEST(ProgressLogTest, ReadsImageIdAndErrorDetail) {
  ProgressLog log;
  log.Add(json::parse(R"({"stream":"Step 1/2 : FROM x\n"})"));
  log.Add(json::parse(R"({"aux":{"ID":"sha256:abc"}})"));
  EXPECT_EQ(log.image_id(), "sha256:abc");
  EXPECT_TRUE(log.error().empty());
  log.Add(json::parse(R"({"errorDetail":{"code":1,"message":"boom"},"error":"boom"})"));
  EXPECT_EQ(log.error(), "boom");
  EXPECT_NE(log.text().find("Step 1/2"), std::string::npos);
}

}  // namespace
}  // namespace berth::docker
