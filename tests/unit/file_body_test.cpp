#include "core/file_body.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "core/ids.hpp"

namespace evald {
namespace {

std::filesystem::path write_temp(const std::string& data) {
  const auto path = std::filesystem::temp_directory_path() / ("evald-body-" + new_uuid());
  std::ofstream(path, std::ios::binary) << data;
  return path;
}

TEST(FileBodyTest, ReadsInChunksAndStopsAtTheEnd) {
  std::string data;
  for (int i = 0; i < 10000; ++i) data += std::to_string(i) + ",";
  const auto path = write_temp(data);
  auto body = FileBody::open(path);
  ASSERT_TRUE(body.ok());
  EXPECT_EQ((*body)->size(), data.size());
  std::string back;
  char buf[4096];
  for (std::uint64_t off = 0;;) {
    auto n = (*body)->read_at(off, buf, sizeof buf);
    ASSERT_TRUE(n.ok());
    if (*n == 0) break;
    back.append(buf, *n);
    off += *n;
  }
  EXPECT_EQ(back, data);
  // Past the end: nothing, not an error.
  auto past = (*body)->read_at(data.size() + 10, buf, sizeof buf);
  ASSERT_TRUE(past.ok());
  EXPECT_EQ(*past, 0u);
  std::filesystem::remove(path);
}

TEST(FileBodyTest, KeepsTheSizeAndBytesOfAnUnlinkedFile) {
  const auto path = write_temp("spooled export");
  auto body = FileBody::open(path);
  ASSERT_TRUE(body.ok());
  std::filesystem::remove(path);
  std::string back(14, '\0');
  auto n = (*body)->read_at(0, back.data(), back.size());
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 14u);
  EXPECT_EQ(back, "spooled export");
}

TEST(FileBodyTest, RefusesWhatIsNotARegularFile) {
  EXPECT_FALSE(FileBody::open("/nonexistent/evald-no-such-file").ok());
  EXPECT_FALSE(FileBody::open(std::filesystem::temp_directory_path()).ok());
}

}  // namespace
}  // namespace evald
