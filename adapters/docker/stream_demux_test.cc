#include "adapters/docker/stream_demux.h"

#include <gtest/gtest.h>

namespace berth::docker {
namespace {

std::string Frame(uint8_t stream, std::string_view payload) {
  std::string f(8, '\0');
  f[0] = static_cast<char>(stream);
  uint32_t n = static_cast<uint32_t>(payload.size());
  f[4] = static_cast<char>(n >> 24);
  f[5] = static_cast<char>(n >> 16);
  f[6] = static_cast<char>(n >> 8);
  f[7] = static_cast<char>(n);
  return f + std::string(payload);
}

TEST(StreamDemuxTest, SplitsStdoutAndStderr) {
  StreamDemux d;
  ASSERT_TRUE(d.Feed(Frame(1, "out1 ") + Frame(2, "err") + Frame(1, "out2")).ok());
  EXPECT_TRUE(d.Finish().ok());
  EXPECT_EQ(d.stdout_text(), "out1 out2");
  EXPECT_EQ(d.stderr_text(), "err");
}

TEST(StreamDemuxTest, FramesSplitAtEveryByteBoundary) {
  std::string all = Frame(1, "hello") + Frame(2, "") + Frame(2, "world!") + Frame(1, "x");
  StreamDemux d;
  for (char c : all) ASSERT_TRUE(d.Feed(std::string_view(&c, 1)).ok());
  EXPECT_TRUE(d.Finish().ok());
  EXPECT_EQ(d.stdout_text(), "hellox");
  EXPECT_EQ(d.stderr_text(), "world!");
}

TEST(StreamDemuxTest, LargeFrameLengthIsBigEndian) {
  std::string payload(70000, 'a');
  StreamDemux d;
  ASSERT_TRUE(d.Feed(Frame(1, payload)).ok());
  EXPECT_EQ(d.stdout_text().size(), 70000u);
}

TEST(StreamDemuxTest, BadHeaderIsAnError) {
  StreamDemux d;
  Status s = d.Feed("hello, this is tty output");
  EXPECT_EQ(s.code(), Code::kFailed);
  EXPECT_EQ(d.Feed(Frame(1, "x")).code(), Code::kFailed);  // sticky
}

TEST(StreamDemuxTest, EndInsideFrameIsAnError) {
  StreamDemux d;
  std::string f = Frame(1, "abcdef");
  ASSERT_TRUE(d.Feed(f.substr(0, f.size() - 2)).ok());
  EXPECT_EQ(d.Finish().code(), Code::kFailed);
}

TEST(StreamDemuxTest, OutputOverLimitIsTruncatedNotFailed) {
  StreamDemux d(/*bytes_max=*/4);
  ASSERT_TRUE(d.Feed(Frame(1, "abcdef") + Frame(2, "xy")).ok());
  EXPECT_TRUE(d.Finish().ok());
  EXPECT_EQ(d.stdout_text(), "abcd");
  EXPECT_EQ(d.stderr_text(), "xy");
  EXPECT_TRUE(d.truncated());
}

}  // namespace
}  // namespace berth::docker
