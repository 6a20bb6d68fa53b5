#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include "config/settings.hpp"
#include "core/ids.hpp"
#include "domain/exports.hpp"
#include "domain/files.hpp"
#include "domain/results.hpp"

namespace evald::domain {
namespace {

using namespace std::string_literals;

void put16(std::string& s, unsigned v) {
  s += static_cast<char>(v & 0xFF);
  s += static_cast<char>((v >> 8) & 0xFF);
}

void put32(std::string& s, unsigned v) {
  put16(s, v & 0xFFFF);
  put16(s, v >> 16);
}

// A ZIP of empty, stored entries: local headers, the central directory and its end record.
std::string zip_of(const std::vector<std::string>& names) {
  std::string out;
  std::string central;
  for (const auto& n : names) {
    const auto offset = static_cast<unsigned>(out.size());
    out += "PK\x03\x04"s;
    put16(out, 20), put16(out, 0), put16(out, 0), put16(out, 0), put16(out, 0);
    put32(out, 0), put32(out, 0), put32(out, 0);
    put16(out, static_cast<unsigned>(n.size())), put16(out, 0);
    out += n;
    central += "PK\x01\x02"s;
    put16(central, 20), put16(central, 20), put16(central, 0), put16(central, 0);
    put16(central, 0), put16(central, 0);
    put32(central, 0), put32(central, 0), put32(central, 0);
    put16(central, static_cast<unsigned>(n.size())), put16(central, 0), put16(central, 0);
    put16(central, 0), put16(central, 0), put32(central, 0), put32(central, offset);
    central += n;
  }
  const auto cd_offset = static_cast<unsigned>(out.size());
  out += central;
  out += "PK\x05\x06"s;
  put16(out, 0), put16(out, 0);
  put16(out, static_cast<unsigned>(names.size())), put16(out, static_cast<unsigned>(names.size()));
  put32(out, static_cast<unsigned>(central.size())), put32(out, cd_offset);
  put16(out, 0);
  return out;
}

std::string kind_of(std::string_view data, std::string_view name) {
  auto t = sniff_file_type(data, name);
  return t ? std::string(t->kind) : "-";
}

const std::string kPdf = "%PDF-1.7\n%\xE2\xE3\xCF\xD3\n1 0 obj\n<<>>\nendobj\n";
const std::string kPng = "\x89PNG\r\n\x1a\n\0\0\0\rIHDR"s;
const std::string kJpeg = "\xFF\xD8\xFF\xE0\0\x10JFIF\0"s;
const std::string kElf =
    "\x7F"
    "ELF\x02\x01\x01\0\0\0"s;
const std::string kExe = "MZ\x90\0\x03\0\0\0"s;
const std::string kOle = "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"s + std::string(504, '\0');

TEST(FileSniffing, AcceptedTypesWithMatchingExtensions) {
  EXPECT_EQ(kind_of(kPdf, "plan.pdf"), "pdf");
  EXPECT_EQ(kind_of(kPdf, "PLAN.PDF"), "pdf");
  EXPECT_EQ(kind_of(kPng, "logo.png"), "png");
  EXPECT_EQ(kind_of(kJpeg, "photo.jpg"), "jpeg");
  EXPECT_EQ(kind_of(kJpeg, "photo.JPEG"), "jpeg");
  EXPECT_EQ(kind_of("hello, 안녕하세요\r\n", "note.txt"), "txt");
  EXPECT_EQ(kind_of("\xEF\xBB\xBFname,reg\n한국,220-81-62517\n", "list.csv"), "csv");
  EXPECT_EQ(kind_of(kOle + "HWP Document File" + std::string(16, '\0'), "보고서.hwp"), "hwp");
  EXPECT_EQ(sniff_file_type(kPdf, "a.pdf")->content_type, "application/pdf");
  EXPECT_EQ(sniff_file_type("x", "a.txt")->content_type, "text/plain; charset=utf-8");
}

TEST(FileSniffing, OfficeDocumentsByTheirParts) {
  const auto docx = zip_of({"[Content_Types].xml", "_rels/.rels", "word/document.xml"});
  const auto xlsx = zip_of({"[Content_Types].xml", "xl/workbook.xml", "xl/worksheets/sheet1.xml"});
  const auto pptx = zip_of({"[Content_Types].xml", "ppt/presentation.xml"});
  EXPECT_EQ(kind_of(docx, "a.docx"), "docx");
  EXPECT_EQ(kind_of(xlsx, "a.xlsx"), "xlsx");
  EXPECT_EQ(kind_of(pptx, "a.pptx"), "pptx");
  // The family must agree with the extension.
  EXPECT_EQ(kind_of(docx, "a.xlsx"), "-");
  EXPECT_EQ(kind_of(xlsx, "a.docx"), "-");
  EXPECT_EQ(kind_of(pptx, "a.pdf"), "-");
  // A plain ZIP, a JAR, one without [Content_Types].xml, or two families at once: refused.
  EXPECT_EQ(kind_of(zip_of({"a.txt"}), "a.docx"), "-");
  EXPECT_EQ(kind_of(zip_of({"META-INF/MANIFEST.MF", "word/document.xml"}), "a.docx"), "-");
  EXPECT_EQ(
      kind_of(zip_of({"[Content_Types].xml", "word/document.xml", "xl/workbook.xml"}), "a.docx"),
      "-");
  // Damaged: truncated central directory, a local header alone.
  EXPECT_EQ(kind_of(docx.substr(0, docx.size() - 30), "a.docx"), "-");
  EXPECT_EQ(kind_of("PK\x03\x04"s, "a.docx"), "-");
}

TEST(FileSniffing, DisguisedAndUnknownContentIsRefused) {
  EXPECT_EQ(kind_of(kElf, "report.pdf"), "-");
  EXPECT_EQ(kind_of(kExe, "report.pdf"), "-");
  EXPECT_EQ(kind_of("<!DOCTYPE html><html><script>alert(1)</script>", "logo.png"), "-");
  EXPECT_EQ(kind_of("<html><body>hi</body></html>", "note.txt"), "-");
  EXPECT_EQ(kind_of("  \n<script>alert(1)</script>", "note.txt"), "-");
  EXPECT_EQ(kind_of("<svg onload=alert(1)>", "data.csv"), "-");
  EXPECT_EQ(kind_of(kPdf, "plan.png"), "-");
  EXPECT_EQ(kind_of(kPng, "logo.pdf"), "-");
  EXPECT_EQ(kind_of(kPdf, "plan"), "-");
  EXPECT_EQ(kind_of(kPdf, "plan.exe"), "-");
  EXPECT_EQ(kind_of("plain words", "note.pdf"), "-");
  EXPECT_EQ(kind_of("plain words", "script.sh"), "-");
  EXPECT_EQ(kind_of("plain words", "note"), "-");
  EXPECT_EQ(kind_of(kOle, "legacy.hwp"), "-");  // OLE2 but not HWP (.doc, .msi...)
  EXPECT_EQ(kind_of(kOle + "HWP Document File", "legacy.doc"), "-");
  // Text must be UTF-8 without NUL or other controls.
  EXPECT_EQ(kind_of("a\0b"s, "a.txt"), "-");
  EXPECT_EQ(kind_of("caf\xE9", "a.txt"), "-");
  EXPECT_EQ(kind_of("\xED\xA0\x80", "a.txt"), "-");  // a surrogate
  EXPECT_EQ(kind_of("\xC0\xAF", "a.txt"), "-");      // overlong '/'
  EXPECT_EQ(kind_of("bell\x07", "a.txt"), "-");
  EXPECT_EQ(kind_of("", "a.txt"), "-");
  EXPECT_EQ(kind_of("", "a.pdf"), "-");
}

TEST(FileNames, PathsAreStripped) {
  EXPECT_EQ(sanitize_file_name("../../etc/passwd"), "passwd");
  EXPECT_EQ(sanitize_file_name("..\\x.pdf"), "x.pdf");
  EXPECT_EQ(sanitize_file_name("C:\\Users\\kim\\사업계획서.pdf"), "사업계획서.pdf");
  EXPECT_EQ(sanitize_file_name("/abs/path/a.txt"), "a.txt");
  EXPECT_EQ(sanitize_file_name("dir/"), "file");
  EXPECT_EQ(sanitize_file_name(".."), "file");
  EXPECT_EQ(sanitize_file_name("..."), "file");
  EXPECT_EQ(sanitize_file_name(""), "file");
  EXPECT_EQ(sanitize_file_name(".hidden.txt"), "hidden.txt");
  EXPECT_EQ(sanitize_file_name("name.pdf. . "), "name.pdf");
}

TEST(FileNames, ControlAndInvisibleCharactersGo) {
  EXPECT_EQ(sanitize_file_name("a\0b.pdf"s), "ab.pdf");
  EXPECT_EQ(sanitize_file_name("evil\r\nSet-Cookie: x.pdf"), "evilSet-Cookie_ x.pdf");
  EXPECT_EQ(sanitize_file_name("tab\there.txt"), "tabhere.txt");
  EXPECT_EQ(sanitize_file_name("invoice\u202Efdp.exe"), "invoicefdp.exe");  // RTL override
  EXPECT_EQ(sanitize_file_name("zero\u200Bwidth.txt"), "zerowidth.txt");
  EXPECT_EQ(sanitize_file_name("say \"hi\".txt"), "say _hi_.txt");
  EXPECT_EQ(sanitize_file_name("bad\xFFutf8.txt"), "bad_utf8.txt");
  EXPECT_EQ(sanitize_file_name("한국 평가 주식회사.pdf"), "한국 평가 주식회사.pdf");
}

TEST(FileNames, LongNamesAreCutAtACharacterAndKeepTheExtension) {
  const std::string korean(300, 'x');
  std::string hangul;
  for (int i = 0; i < 120; ++i) hangul += "가";  // 3 bytes each: 360 bytes
  const auto a = sanitize_file_name(korean + ".pdf");
  EXPECT_EQ(a.size(), 255u);
  EXPECT_EQ(a.substr(a.size() - 4), ".pdf");
  const auto b = sanitize_file_name(hangul + ".hwp");
  EXPECT_LE(b.size(), 255u);
  EXPECT_EQ(b.substr(b.size() - 4), ".hwp");
  EXPECT_EQ((b.size() - 4) % 3, 0u);  // whole characters only
  EXPECT_EQ(sanitize_file_name(std::string(255, 'a')), std::string(255, 'a'));
}

TEST(FileNames, ContentDispositionHasAnAsciiFallbackAndUtf8Name) {
  EXPECT_EQ(attachment_disposition("plan.pdf"),
            "attachment; filename=\"plan.pdf\"; filename*=UTF-8''plan.pdf");
  EXPECT_EQ(attachment_disposition("사업계획서.pdf"),
            "attachment; filename=\"download.pdf\"; "
            "filename*=UTF-8''%EC%82%AC%EC%97%85%EA%B3%84%ED%9A%8D%EC%84%9C.pdf");
  EXPECT_EQ(attachment_disposition("2026 계획 v2.pdf"),
            "attachment; filename=\"2026 _ v2.pdf\"; "
            "filename*=UTF-8''2026%20%EA%B3%84%ED%9A%8D%20v2.pdf");
  EXPECT_EQ(attachment_disposition("a%b\"c\\.txt"),
            "attachment; filename=\"a_b_c_.txt\"; filename*=UTF-8''a%25b%22c%5C.txt");
  EXPECT_EQ(attachment_disposition("결과.csv", "project-results-20260301.csv"),
            "attachment; filename=\"project-results-20260301.csv\"; "
            "filename*=UTF-8''%EA%B2%B0%EA%B3%BC.csv");
}

TEST(FileStoreTest, StoresOnceByHashAndRemoves) {
  const auto dir = std::filesystem::temp_directory_path() / ("evald-store-" + new_uuid());
  FileStore store(dir);
  const std::string data = "hello 한국";
  const std::string sha = sha256_hex(data);
  ASSERT_TRUE(store.put(sha, data).ok());
  const auto path = store.path_of(sha);
  EXPECT_EQ(path, dir / "files" / sha.substr(0, 2) / sha.substr(2, 2) / sha);
  EXPECT_TRUE(std::filesystem::is_regular_file(path));
  ASSERT_TRUE(store.put(sha, data).ok());  // again: nothing changes
  auto back = store.open(sha);
  ASSERT_TRUE(back.ok());
  ASSERT_EQ((*back)->size(), data.size());
  std::string read(data.size(), '\0');
  auto n = (*back)->read_at(0, read.data(), read.size());
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, data.size());
  EXPECT_EQ(read, data);
  // No temporary file is left beside the blob.
  std::size_t entries = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(path.parent_path())) {
    ++entries;
  }
  EXPECT_EQ(entries, 1u);
  store.remove(sha);
  EXPECT_FALSE(std::filesystem::exists(path));
  EXPECT_FALSE(store.open(sha).ok());
  // A blob already open stays readable after its removal (a download in flight).
  std::string again(data.size(), '\0');
  ASSERT_TRUE((*back)->read_at(0, again.data(), again.size()).ok());
  EXPECT_EQ(again, data);
  EXPECT_FALSE(store.put("../../etc/passwd", data).ok());  // only hashes name blobs
  std::filesystem::remove_all(dir);
}

TEST(ExportCells, FormulaLookingTextIsNeutralised) {
  EXPECT_EQ(neutralize_formula("=SUM(A1:A2)"), "'=SUM(A1:A2)");
  EXPECT_EQ(neutralize_formula("+1"), "'+1");
  EXPECT_EQ(neutralize_formula("-1"), "'-1");
  EXPECT_EQ(neutralize_formula("@cmd"), "'@cmd");
  EXPECT_EQ(neutralize_formula("\tx"), "'\tx");
  EXPECT_EQ(neutralize_formula("\rx"), "'\rx");
  EXPECT_EQ(neutralize_formula("한국 평가"), "한국 평가");
  EXPECT_EQ(neutralize_formula("a=b"), "a=b");
  EXPECT_EQ(neutralize_formula(""), "");
}

CompanyResult company(std::string name, std::optional<double> mean) {
  CompanyResult c;
  c.company_id = name;
  c.name = std::move(name);
  c.mean_weighted = mean;
  return c;
}

TEST(Ranking, TiesShareARankAndTheNextSkips) {
  std::vector<CompanyResult> v{company("d", 70),          company("none", std::nullopt),
                               company("b", 90),          company("a", 90),
                               company("c", 80),          company("also-none", std::nullopt),
                               company("e", 70.0 + 1e-13)};
  rank_companies(v);
  std::vector<std::string> names;
  std::vector<std::optional<std::int64_t>> ranks;
  for (const auto& c : v) {
    names.push_back(c.name);
    ranks.push_back(c.rank);
  }
  EXPECT_EQ(names, (std::vector<std::string>{"a", "b", "c", "d", "e", "also-none", "none"}));
  EXPECT_EQ(ranks,
            (std::vector<std::optional<std::int64_t>>{1, 1, 3, 4, 4, std::nullopt, std::nullopt}));
}

LoadResult load(RawConfig env) {
  ConfigSources sources;
  sources.environment = std::move(env);
  return load_settings(sources, 2);
}

TEST(FileSettings, DefaultsAndLimits) {
  auto d = load({});
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d.settings.files.data_dir, "data");
  EXPECT_EQ(d.settings.files.max_upload_bytes, 10'485'760u);

  auto set = load({{"DATA_DIR", "/srv/evald"}, {"MAX_UPLOAD_BYTES", "1048576"}});
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(set.settings.files.data_dir, "/srv/evald");
  EXPECT_EQ(set.settings.files.max_upload_bytes, 1'048'576u);

  // The default follows a smaller MAX_BODY_BYTES; an explicit larger value is an error.
  auto follows = load({{"MAX_BODY_BYTES", "4096"}});
  ASSERT_TRUE(follows.ok());
  EXPECT_EQ(follows.settings.files.max_upload_bytes, 4096u);
  auto above = load({{"MAX_BODY_BYTES", "4096"}, {"MAX_UPLOAD_BYTES", "4097"}});
  ASSERT_EQ(above.errors.size(), 1u);
  EXPECT_EQ(above.errors[0].rfind("MAX_UPLOAD_BYTES:", 0), 0u) << above.errors[0];

  auto bad = load({{"DATA_DIR", ""}, {"MAX_UPLOAD_BYTES", "lots"}});
  EXPECT_EQ(bad.errors.size(), 2u);
}

}  // namespace
}  // namespace evald::domain
