#include "core/ids.hpp"

#include <gtest/gtest.h>

#include <set>

namespace evald {
namespace {

TEST(RequestId, SaneIdsAreAccepted) {
  EXPECT_TRUE(is_sane_request_id("abc-123"));
  EXPECT_TRUE(is_sane_request_id("req_123456789"));
  EXPECT_TRUE(is_sane_request_id(std::string(128, 'a')));
  EXPECT_TRUE(is_sane_request_id("!~"));
}

TEST(RequestId, InsaneIdsAreRejected) {
  EXPECT_FALSE(is_sane_request_id(""));
  EXPECT_FALSE(is_sane_request_id(std::string(129, 'a')));
  EXPECT_FALSE(is_sane_request_id("has space"));
  EXPECT_FALSE(is_sane_request_id("crlf\r\ninjected: yes"));
  EXPECT_FALSE(is_sane_request_id("tab\t"));
  EXPECT_FALSE(is_sane_request_id("del\x7f"));
  EXPECT_FALSE(is_sane_request_id("caf\xc3\xa9"));
  EXPECT_FALSE(is_sane_request_id(std::string("nul\0x", 5)));
}

TEST(RequestId, GeneratedIdsAre128BitHexAndUnique) {
  std::set<std::string> seen;
  for (int i = 0; i < 5000; ++i) {
    auto id = new_request_id();
    ASSERT_EQ(id.size(), 32u);
    for (char c : id) ASSERT_TRUE(std::isxdigit(static_cast<unsigned char>(c)) && !std::isupper(c));
    ASSERT_TRUE(is_sane_request_id(id));
    seen.insert(std::move(id));
  }
  EXPECT_EQ(seen.size(), 5000u);
}

TEST(Hex, EncodesBytes) {
  const unsigned char b[] = {0x00, 0x0f, 0xa5, 0xff};
  EXPECT_EQ(to_hex(b, 4), "000fa5ff");
}

}  // namespace
}  // namespace evald
