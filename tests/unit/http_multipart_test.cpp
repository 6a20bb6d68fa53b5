#include "http/multipart.hpp"

#include <gtest/gtest.h>

namespace evald::http {
namespace {

Request multipart(std::string body,
                  std::string content_type = "multipart/form-data; boundary=----b0undary") {
  Request r;
  r.method = "POST";
  r.headers.set("Content-Type", content_type);
  r.body = std::move(body);
  return r;
}

TEST(Multipart, ReadsFieldsAndFilesWithBinaryContent) {
  const std::string binary("\x00\x01\r\n--x\xff", 8);
  auto r = multipart(
      "preamble is ignored\r\n"
      "------b0undary\r\n"
      "Content-Disposition: form-data; name=\"project_id\"\r\n\r\n"
      "p-1\r\n"
      "------b0undary\r\n"
      "Content-Disposition: form-data; name=\"file\"; filename=\"a; b \\\"c\\\".pdf\"\r\n"
      "Content-Type: application/pdf\r\n\r\n" +
      binary +
      "\r\n"
      "------b0undary--\r\n");
  auto parts = parse_multipart(r);
  ASSERT_TRUE(parts) << parts.error().message;
  ASSERT_EQ(parts->size(), 2u);
  EXPECT_EQ((*parts)[0].name, "project_id");
  EXPECT_EQ((*parts)[0].data, "p-1");
  EXPECT_FALSE((*parts)[0].has_filename);
  const auto* file = find_part(*parts, "file");
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(file->filename, "a; b \"c\".pdf");
  EXPECT_EQ(file->content_type, "application/pdf");
  EXPECT_EQ(file->data, binary);
  EXPECT_EQ(find_part(*parts, "nope"), nullptr);
}

TEST(Multipart, PrefersTheUtf8FileNameAndTakesAQuotedBoundary) {
  auto r = multipart(
      "--q b\r\n"
      "Content-Disposition: form-data; name=\"file\"; filename=\"fallback.txt\"; "
      "filename*=UTF-8''%ED%95%9C%EA%B5%AD.txt\r\n\r\n"
      "hello\r\n"
      "--q b--",
      "Multipart/Form-Data; boundary=\"q b\"");
  EXPECT_TRUE(is_multipart(r));
  auto parts = parse_multipart(r);
  ASSERT_TRUE(parts) << parts.error().message;
  ASSERT_EQ(parts->size(), 1u);
  EXPECT_EQ((*parts)[0].filename, "한국.txt");
  EXPECT_EQ((*parts)[0].data, "hello");
}

TEST(Multipart, RefusesWhatIsNotWellFormed) {
  const std::string ok_head =
      "------b0undary\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n";
  for (const auto& [label, req] : std::vector<std::pair<std::string, Request>>{
           {"json content type", multipart("{}", "application/json")},
           {"no boundary", multipart(ok_head + "x\r\n------b0undary--", "multipart/form-data")},
           {"never closed", multipart(ok_head + "x")},
           {"no delimiter", multipart("just text")},
           {"no disposition", multipart("------b0undary\r\nContent-Type: text/plain\r\n\r\nx\r\n"
                                        "------b0undary--")},
           {"not form-data", multipart("------b0undary\r\nContent-Disposition: attachment\r\n\r\n"
                                       "x\r\n------b0undary--")},
           {"header without colon",
            multipart("------b0undary\r\nbroken\r\n\r\nx\r\n------b0undary--")},
       }) {
    auto parts = parse_multipart(req);
    ASSERT_FALSE(parts) << label;
    EXPECT_EQ(parts.error().code, ErrorCode::kValidationError) << label;
    EXPECT_EQ(parts.error().status(), 400u) << label;
  }
  EXPECT_FALSE(is_multipart(multipart("", "text/csv")));
}

TEST(Multipart, BoundsTheNumberOfParts) {
  std::string body;
  for (int i = 0; i < 5; ++i) {
    body += "------b0undary\r\nContent-Disposition: form-data; name=\"f" + std::to_string(i) +
            "\"\r\n\r\nv\r\n";
  }
  body += "------b0undary--";
  EXPECT_TRUE(parse_multipart(multipart(body), 5));
  auto too_many = parse_multipart(multipart(body), 4);
  ASSERT_FALSE(too_many);
  EXPECT_NE(too_many.error().details.at(0).message.find("At most 4"), std::string::npos);
}

TEST(Multipart, AnEmptyFormHasNoParts) {
  auto parts = parse_multipart(multipart("------b0undary--\r\n"));
  ASSERT_TRUE(parts);
  EXPECT_TRUE(parts->empty());
}

}  // namespace
}  // namespace evald::http
