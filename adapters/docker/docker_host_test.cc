#include "adapters/docker/docker_host.h"

#include <gtest/gtest.h>

namespace berth::docker {
namespace {

TEST(DockerHostTest, EmptyMeansDefaultUnixSocket) {
  Result<Endpoint> ep = ParseDockerHost("", false, "");
  ASSERT_TRUE(ep.ok());
  EXPECT_EQ(ep->kind, Endpoint::Kind::kUnix);
  EXPECT_EQ(ep->socket_path, "/var/run/docker.sock");
  EXPECT_EQ(ep->BaseUrl(), "http://localhost");
}

TEST(DockerHostTest, UnixPath) {
  Result<Endpoint> ep = ParseDockerHost("unix:///tmp/berth-dockerd-1/docker.sock", false, "");
  ASSERT_TRUE(ep.ok());
  EXPECT_EQ(ep->socket_path, "/tmp/berth-dockerd-1/docker.sock");
  EXPECT_EQ(ep->ToString(), "unix:///tmp/berth-dockerd-1/docker.sock");
}

TEST(DockerHostTest, TcpWithPort) {
  Result<Endpoint> ep = ParseDockerHost("tcp://127.0.0.1:2375", false, "");
  ASSERT_TRUE(ep.ok());
  EXPECT_EQ(ep->kind, Endpoint::Kind::kTcp);
  EXPECT_EQ(ep->host, "127.0.0.1");
  EXPECT_EQ(ep->port, 2375);
  EXPECT_FALSE(ep->tls);
  EXPECT_EQ(ep->BaseUrl(), "http://127.0.0.1:2375");
}

TEST(DockerHostTest, TcpDefaultPortDependsOnTls) {
  EXPECT_EQ(ParseDockerHost("tcp://docker.example", false, "").value().port, 2375);
  EXPECT_EQ(ParseDockerHost("tcp://docker.example/", true, "/c").value().port, 2376);
}

TEST(DockerHostTest, TlsUsesCertPathFiles) {
  Result<Endpoint> ep = ParseDockerHost("tcp://h:2376", true, "/certs");
  ASSERT_TRUE(ep.ok());
  EXPECT_TRUE(ep->tls);
  EXPECT_EQ(ep->BaseUrl(), "https://h:2376");
  EXPECT_EQ(ep->ca_file, "/certs/ca.pem");
  EXPECT_EQ(ep->cert_file, "/certs/cert.pem");
  EXPECT_EQ(ep->key_file, "/certs/key.pem");
}

TEST(DockerHostTest, BracketedIpv6) {
  Result<Endpoint> ep = ParseDockerHost("tcp://[::1]:2375", false, "");
  ASSERT_TRUE(ep.ok());
  EXPECT_EQ(ep->host, "::1");
  EXPECT_EQ(ep->BaseUrl(), "http://[::1]:2375");
}

TEST(DockerHostTest, RejectsWhatItCannotSpeak) {
  EXPECT_EQ(ParseDockerHost("ssh://me@host", false, "").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(ParseDockerHost("unix://", false, "").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(ParseDockerHost("tcp://h:notaport", false, "").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(ParseDockerHost("tcp://h:70000", false, "").status().code(), Code::kInvalidArgument);
  EXPECT_EQ(ParseDockerHost("tcp://:2375", false, "").status().code(), Code::kInvalidArgument);
}

TEST(DockerHostTest, FromEnvironmentReadsDockerHost) {
  setenv("DOCKER_HOST", "tcp://127.0.0.1:12375", 1);
  unsetenv("DOCKER_TLS_VERIFY");
  Result<Endpoint> ep = EndpointFromEnvironment();
  ASSERT_TRUE(ep.ok());
  EXPECT_EQ(ep->port, 12375);
  EXPECT_FALSE(ep->tls);
}

}  // namespace
}  // namespace berth::docker
