#include "domain/files.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>

#include "core/file_body.hpp"
#include "core/ids.hpp"
#include "core/scope_exit.hpp"
#include "core/time_format.hpp"

namespace evald::domain {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kMaxNameBytes = 255;
constexpr std::size_t kMaxKeptExtensionBytes = 16;
constexpr std::size_t kMaxZipEntries = 20'000;

constexpr FileType kPdf{"pdf", "application/pdf"};
constexpr FileType kPng{"png", "image/png"};
constexpr FileType kJpeg{"jpeg", "image/jpeg"};
constexpr FileType kDocx{"docx",
                         "application/vnd.openxmlformats-officedocument.wordprocessingml.document"};
constexpr FileType kXlsx{"xlsx",
                         "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"};
constexpr FileType kPptx{
    "pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"};
constexpr FileType kHwp{"hwp", "application/x-hwp"};
constexpr FileType kTxt{"txt", "text/plain; charset=utf-8"};
constexpr FileType kCsv{"csv", "text/csv; charset=utf-8"};

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

std::string lower_ascii(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string extension_of(std::string_view name) {
  const auto dot = name.rfind('.');
  if (dot == std::string_view::npos || dot + 1 >= name.size()) return {};
  return lower_ascii(name.substr(dot + 1));
}

std::uint32_t le16(std::string_view d, std::size_t at) {
  return static_cast<unsigned char>(d[at]) | (static_cast<unsigned char>(d[at + 1]) << 8);
}

std::uint32_t le32(std::string_view d, std::size_t at) {
  return le16(d, at) | (le16(d, at + 2) << 16);
}

// Which Office Open XML package a ZIP is, from the names in its central directory: the package
// must have [Content_Types].xml and the main part of exactly one of Word, Excel or PowerPoint.
std::optional<FileType> ooxml_family(std::string_view d) {
  constexpr std::size_t kEocd = 22;
  if (d.size() < kEocd) return std::nullopt;
  const std::size_t lowest = d.size() > kEocd + 65535 ? d.size() - kEocd - 65535 : 0;
  std::optional<std::size_t> eocd;
  for (std::size_t p = d.size() - kEocd + 1; p-- > lowest;) {
    if (d.substr(p, 4) == std::string_view("PK\x05\x06", 4)) {
      eocd = p;
      break;
    }
  }
  if (!eocd) return std::nullopt;
  const std::size_t entries = le16(d, *eocd + 10);
  const std::size_t cd_size = le32(d, *eocd + 12);
  const std::size_t cd_offset = le32(d, *eocd + 16);
  if (entries > kMaxZipEntries || cd_offset > *eocd || cd_size > *eocd - cd_offset) {
    return std::nullopt;  // ZIP64 or damaged
  }
  bool content_types = false;
  int word = 0;
  int excel = 0;
  int powerpoint = 0;
  std::size_t p = cd_offset;
  for (std::size_t i = 0; i < entries; ++i) {
    if (p + 46 > cd_offset + cd_size || d.substr(p, 4) != std::string_view("PK\x01\x02", 4)) {
      return std::nullopt;
    }
    const std::size_t name_len = le16(d, p + 28);
    const std::size_t extra_len = le16(d, p + 30);
    const std::size_t comment_len = le16(d, p + 32);
    if (p + 46 + name_len > cd_offset + cd_size) return std::nullopt;
    const auto name = d.substr(p + 46, name_len);
    if (name == "[Content_Types].xml") content_types = true;
    if (name == "word/document.xml") ++word;
    if (name == "xl/workbook.xml") ++excel;
    if (name == "ppt/presentation.xml") ++powerpoint;
    p += 46 + name_len + extra_len + comment_len;
  }
  if (!content_types || word + excel + powerpoint != 1) return std::nullopt;
  if (word) return kDocx;
  if (excel) return kXlsx;
  return kPptx;
}

// The next code point of `s` at `i` (advancing `i`), or nullopt for an invalid sequence (then
// `i` moves past one byte).
std::optional<char32_t> next_code_point(std::string_view s, std::size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  std::size_t len = 0;
  char32_t cp = 0;
  char32_t min = 0;
  if ((b0 & 0xE0) == 0xC0) {
    len = 2, cp = b0 & 0x1F, min = 0x80;
  } else if ((b0 & 0xF0) == 0xE0) {
    len = 3, cp = b0 & 0x0F, min = 0x800;
  } else if ((b0 & 0xF8) == 0xF0) {
    len = 4, cp = b0 & 0x07, min = 0x10000;
  } else {
    ++i;
    return std::nullopt;
  }
  if (i + len > s.size()) {
    ++i;
    return std::nullopt;
  }
  for (std::size_t k = 1; k < len; ++k) {
    const auto b = static_cast<unsigned char>(s[i + k]);
    if ((b & 0xC0) != 0x80) {
      ++i;
      return std::nullopt;
    }
    cp = (cp << 6) | (b & 0x3F);
  }
  if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
    ++i;
    return std::nullopt;
  }
  i += len;
  return cp;
}

void append_utf8(std::string& out, char32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// Invisible characters that change how a name reads: controls, zero-width and bidirectional
// marks and overrides ("invoice\u202Efdp.exe" shows as "invoiceexe.pdf").
bool is_invisible(char32_t cp) {
  return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) || (cp >= 0x200B && cp <= 0x200F) ||
         (cp >= 0x2028 && cp <= 0x202E) || (cp >= 0x2060 && cp <= 0x2069) || cp == 0xFEFF;
}

bool is_text(std::string_view d) {
  if (starts_with(d, "\xEF\xBB\xBF")) d.remove_prefix(3);
  std::size_t i = 0;
  while (i < d.size()) {
    const auto cp = next_code_point(d, i);
    if (!cp) return false;
    if (*cp < 0x20 && *cp != '\t' && *cp != '\n' && *cp != '\r' && *cp != '\f') return false;
  }
  // Markup is not plain text: a browser would render it, whatever it is called.
  auto rest = d.substr(std::min(d.size(), d.find_first_not_of(" \t\r\n\f")));
  if (!rest.empty() && rest.front() == '<') {
    const auto head = lower_ascii(rest.substr(0, 16));
    for (std::string_view tag : {"<!doctype", "<html", "<script", "<?xml", "<svg", "<head", "<body",
                                 "<iframe", "<!--", "<meta", "<style", "<object"}) {
      if (starts_with(head, tag)) return false;
    }
  }
  return true;
}

bool is_hex64(std::string_view s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

ApiError io_error(const std::string& what) {
  return ApiError::internal("file store: " + what + ": " + std::strerror(errno));
}

constexpr const char* kFileColumns =
    "id, company_id, uploader_id, original_name, content_type, size_bytes, sha256, created_at";

Status log_access(db::Tx& tx, const Clock& clock, std::string_view file_id, const Actor& actor,
                  std::string_view action, std::string_view ip) {
  auto r = tx.exec(
      "INSERT INTO file_access_log (id, file_id, user_id, action, ip_address, created_at) "
      "VALUES ($1, $2, $3, $4, $5, $6)",
      {new_uuid(), std::string(file_id), actor.user_id, std::string(action),
       ip.empty() ? db::null() : db::Value(std::string(ip)), format_iso8601(clock.now(), true)});
  if (!r) return std::move(r).error();
  return Ok{};
}

Result<std::optional<FileRecord>> find_file(db::Tx& tx, std::string_view id) {
  auto rows = tx.query(std::string("SELECT ") + kFileColumns + " FROM files WHERE id = $1",
                       {std::string(id)});
  if (!rows) return std::move(rows).error();
  if (rows->empty()) return std::optional<FileRecord>{};
  return std::optional<FileRecord>(file_from_row(*rows, 0));
}

Result<bool> has_sheet_for(db::Tx& tx, std::string_view user_id, std::string_view company_id) {
  auto rows = tx.query(
      "SELECT 1 FROM evaluation_sheets WHERE company_id = $1 AND evaluator_id = $2 LIMIT 1",
      {std::string(company_id), std::string(user_id)});
  if (!rows) return std::move(rows).error();
  return !rows->empty();
}

Result<std::int64_t> references(db::Tx& tx, std::string_view sha256) {
  auto rows = tx.query("SELECT COUNT(*) AS n FROM files WHERE sha256 = $1", {std::string(sha256)});
  if (!rows) return std::move(rows).error();
  return rows->integer(0, "n");
}

}  // namespace

std::optional<FileType> sniff_file_type(std::string_view data, std::string_view file_name) {
  const std::string ext = extension_of(file_name);
  if (starts_with(data, "%PDF-")) {
    return ext == "pdf" ? std::optional(kPdf) : std::nullopt;
  }
  if (starts_with(data, "\x89PNG\r\n\x1a\n")) {
    return ext == "png" ? std::optional(kPng) : std::nullopt;
  }
  if (starts_with(data, "\xFF\xD8\xFF")) {
    return ext == "jpg" || ext == "jpeg" ? std::optional(kJpeg) : std::nullopt;
  }
  if (starts_with(data, std::string_view("PK\x03\x04", 4))) {
    auto family = ooxml_family(data);
    return family && family->kind == ext ? family : std::nullopt;
  }
  if (starts_with(data, "\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1")) {
    // OLE2 is also .doc, .xls, .msi...: an HWP 5 document's FileHeader stream (never
    // compressed) starts with this signature.
    const bool hwp = data.find("HWP Document File") != std::string_view::npos;
    return hwp && ext == "hwp" ? std::optional(kHwp) : std::nullopt;
  }
  if ((ext == "txt" || ext == "csv") && !data.empty() && is_text(data)) {
    return ext == "txt" ? kTxt : kCsv;
  }
  return std::nullopt;
}

std::string sanitize_file_name(std::string_view name) {
  // Decode (invalid bytes become '_'), keep what follows the last separator of either system.
  std::u32string cps;
  for (std::size_t i = 0; i < name.size();) {
    const auto cp = next_code_point(name, i);
    const char32_t c = cp.value_or(U'_');
    if (c == U'/' || c == U'\\') {
      cps.clear();
    } else if (!is_invisible(c)) {
      cps.push_back(c);
    }
  }
  for (auto& c : cps) {
    if (c == U'"' || c == U'<' || c == U'>' || c == U'|' || c == U':' || c == U'*' || c == U'?') {
      c = U'_';
    }
  }
  auto trimmed = [](char32_t c) { return c == U' ' || c == U'.' || c == U'\u3000'; };
  while (!cps.empty() && trimmed(cps.front())) cps.erase(cps.begin());
  while (!cps.empty() && trimmed(cps.back())) cps.pop_back();

  std::string stem;
  std::string ext;
  const auto dot = cps.rfind(U'.');
  std::size_t i = 0;
  for (; i < cps.size() && (dot == std::u32string::npos || i < dot); ++i) append_utf8(stem, cps[i]);
  for (; i < cps.size(); ++i) append_utf8(ext, cps[i]);  // ".pdf"
  if (ext.size() > kMaxKeptExtensionBytes) {
    stem += ext;
    ext.clear();
  }
  if (stem.size() + ext.size() > kMaxNameBytes) {
    std::size_t keep = kMaxNameBytes - ext.size();
    // Back to a code point boundary.
    while (keep > 0 && (static_cast<unsigned char>(stem[keep]) & 0xC0) == 0x80) --keep;
    stem.resize(keep);
  }
  std::string out = stem + ext;
  if (stem.empty()) out = "file" + ext;
  return out;
}

std::string attachment_disposition(std::string_view name, std::string_view ascii_fallback) {
  auto plain = [](char32_t c) {
    return c >= 0x20 && c < 0x7F && c != U'"' && c != U'\\' && c != U'%';
  };
  std::string fallback;
  const std::string_view source = ascii_fallback.empty() ? name : ascii_fallback;
  for (std::size_t i = 0; i < source.size();) {
    const char32_t c = next_code_point(source, i).value_or(U'_');
    if (plain(c)) {
      fallback += static_cast<char>(c);
    } else if (fallback.empty() || fallback.back() != '_') {
      fallback += '_';
    }
  }
  if (std::none_of(fallback.begin(), fallback.end(),
                   [](unsigned char c) { return std::isalnum(c) && c < 0x80; })) {
    fallback = "download";
  } else if (ascii_fallback.empty()) {
    const auto dot = fallback.rfind('.');
    const auto stem = fallback.substr(0, dot == std::string::npos ? fallback.size() : dot);
    if (std::none_of(stem.begin(), stem.end(), [](unsigned char c) { return std::isalnum(c); })) {
      fallback = "download" + (dot == std::string::npos ? "" : fallback.substr(dot));
    }
  }
  std::string encoded;
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : name) {
    const bool attr_char = std::isalnum(c) || std::strchr("!#$&+-.^_`|~", c) != nullptr;
    if (attr_char && c != 0) {
      encoded += static_cast<char>(c);
    } else {
      encoded += '%';
      encoded += kHex[c >> 4];
      encoded += kHex[c & 0x0F];
    }
  }
  return "attachment; filename=\"" + fallback + "\"; filename*=UTF-8''" + encoded;
}

// --- FileStore --------------------------------------------------------------------------------

FileStore::FileStore(fs::path data_dir) : root_(std::move(data_dir) / "files") {}

fs::path FileStore::path_of(std::string_view sha256) const {
  const std::string h(sha256);
  return root_ / h.substr(0, 2) / h.substr(2, 2) / h;
}

std::mutex& FileStore::lock_for(std::string_view sha256) {
  return stripes_[std::hash<std::string_view>{}(sha256) % stripes_.size()];
}

Status FileStore::put(std::string_view sha256, std::string_view data) const {
  if (!is_hex64(sha256)) return ApiError::internal("file store: not a SHA-256");
  const fs::path target = path_of(sha256);
  std::error_code ec;
  if (fs::is_regular_file(target, ec) && fs::file_size(target, ec) == data.size()) return Ok{};
  const fs::path dir = target.parent_path();
  fs::create_directories(dir, ec);
  if (ec) return ApiError::internal("file store: cannot create " + dir.string());
  std::string tmpl = (dir / ("." + std::string(sha256) + ".XXXXXX")).string();
  const int fd = ::mkstemp(tmpl.data());
  if (fd < 0) return io_error("cannot create a temporary file in " + dir.string());
  bool kept = false;
  ScopeExit cleanup([&] {
    if (!kept) ::unlink(tmpl.c_str());
  });
  std::size_t done = 0;
  while (done < data.size()) {
    const auto n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      auto e = io_error("write");
      ::close(fd);
      return e;
    }
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) {
    auto e = io_error("fsync");
    ::close(fd);
    return e;
  }
  if (::close(fd) != 0) return io_error("close");
  if (::rename(tmpl.c_str(), target.c_str()) != 0) return io_error("rename");
  kept = true;
  // The rename itself must survive a crash: sync the directory entry too.
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Ok{};
}

Result<std::shared_ptr<const FileBody>> FileStore::open(std::string_view sha256) const {
  if (!is_hex64(sha256)) return ApiError::internal("file store: not a SHA-256");
  auto body = FileBody::open(path_of(sha256));
  if (!body)
    return ApiError::internal("file store: the blob of " + std::string(sha256) + " is gone");
  return body;
}

void FileStore::remove(std::string_view sha256) const {
  if (!is_hex64(sha256)) return;
  std::error_code ec;
  fs::remove(path_of(sha256), ec);
}

// --- records ----------------------------------------------------------------------------------

FileRecord file_from_row(const db::Rows& rows, std::size_t i) {
  FileRecord f;
  f.id = rows.text(i, "id");
  f.company_id = rows.text(i, "company_id");
  f.uploader_id = rows.text(i, "uploader_id");
  f.original_name = rows.text(i, "original_name");
  f.content_type = rows.text(i, "content_type");
  f.size_bytes = rows.integer(i, "size_bytes");
  f.sha256 = rows.text(i, "sha256");
  f.created_at = rows.text(i, "created_at");
  return f;
}

boost::json::object file_json(const FileRecord& f) {
  boost::json::object o;
  o["id"] = f.id;
  o["company_id"] = f.company_id;
  o["original_name"] = f.original_name;
  o["content_type"] = f.content_type;
  o["size_bytes"] = f.size_bytes;
  o["sha256"] = f.sha256;
  o["uploader_id"] =
      f.uploader_id.empty() ? boost::json::value() : boost::json::value(f.uploader_id);
  o["created_at"] = f.created_at;
  return o;
}

Status check_company_access(db::Tx& tx, const Actor& actor, std::string_view company_id) {
  if (!is_uuid(company_id)) return not_found("Company");
  auto rows = tx.query("SELECT id FROM companies WHERE id = $1", {std::string(company_id)});
  if (!rows) return std::move(rows).error();
  if (rows->empty()) return not_found("Company");
  if (!actor.is_staff()) {
    auto sheet = has_sheet_for(tx, actor.user_id, company_id);
    if (!sheet) return std::move(sheet).error();
    if (!*sheet) return not_found("Company");
  }
  return Ok{};
}

Result<FileRecord> upload_file(db::Database& db, FileStore& store, const Clock& clock,
                               const Actor& actor, const Upload& upload) {
  // The company first, so that nothing is written for an unknown one.
  auto seen =
      db.read([&](db::Tx& tx) { return check_company_access(tx, actor, upload.company_id); });
  if (!seen) return std::move(seen).error();

  FileRecord f;
  f.id = new_uuid();
  f.company_id = upload.company_id;
  f.uploader_id = actor.user_id;
  f.original_name = upload.file_name;
  f.content_type = std::string(upload.type.content_type);
  f.size_bytes = static_cast<std::int64_t>(upload.data.size());
  f.sha256 = sha256_hex(upload.data);
  f.created_at = format_iso8601(clock.now(), true);

  std::lock_guard lock(store.lock_for(f.sha256));
  if (auto put = store.put(f.sha256, upload.data); !put) return std::move(put).error();
  auto written = db.write([&](db::Tx& tx) -> Status {
    if (auto st = check_company_access(tx, actor, f.company_id); !st) return st;
    auto r = tx.exec(std::string("INSERT INTO files (") + kFileColumns +
                         ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                     {f.id, f.company_id, f.uploader_id, f.original_name, f.content_type,
                      f.size_bytes, f.sha256, f.created_at});
    if (!r) return std::move(r).error();
    return log_access(tx, clock, f.id, actor, "upload", upload.ip);
  });
  if (!written) {
    // The blob may be new: keep it only if another row uses it.
    std::int64_t refs = 1;
    (void)db.read([&](db::Tx& tx) -> Status {
      auto n = references(tx, f.sha256);
      if (!n) return std::move(n).error();
      refs = *n;
      return Ok{};
    });
    if (refs == 0) store.remove(f.sha256);
    return std::move(written).error();
  }
  return f;
}

Result<db::Rows> list_company_files(db::Database& db, const Actor& actor,
                                    std::string_view company_id, const std::string& where_sql,
                                    const db::Params& params, const std::string& order_sql) {
  std::optional<db::Rows> out;
  auto st = db.read([&](db::Tx& tx) -> Status {
    if (auto seen = check_company_access(tx, actor, company_id); !seen) return seen;
    auto rows = tx.query(
        std::string("SELECT ") + kFileColumns + " FROM files" + where_sql + order_sql, params);
    if (!rows) return std::move(rows).error();
    out = std::move(*rows);
    return Ok{};
  });
  if (!st) return std::move(st).error();
  return std::move(*out);
}

Result<Download> download_file(db::Database& db, FileStore& store, const Clock& clock,
                               const Actor& actor, std::string_view file_id, std::string_view ip) {
  if (!is_uuid(file_id)) return not_found("File");
  std::optional<FileRecord> file;
  bool denied = false;
  // The refusal is logged too: the transaction commits, and the caller gets 404 after it.
  auto st = db.write([&](db::Tx& tx) -> Status {
    auto found = find_file(tx, file_id);
    if (!found) return std::move(found).error();
    if (!*found) return not_found("File");
    file = std::move(**found);
    if (!actor.is_staff()) {
      auto sheet = has_sheet_for(tx, actor.user_id, file->company_id);
      if (!sheet) return std::move(sheet).error();
      denied = !*sheet;
    }
    return log_access(tx, clock, file->id, actor, denied ? "download_denied" : "download", ip);
  });
  if (!st) return std::move(st).error();
  if (denied) return not_found("File");
  auto body = store.open(file->sha256);
  if (!body) return std::move(body).error();
  if (static_cast<std::int64_t>((*body)->size()) != file->size_bytes) {
    return ApiError::internal("file store: the blob of " + file->sha256 + " has " +
                              std::to_string((*body)->size()) + " bytes, the row says " +
                              std::to_string(file->size_bytes));
  }
  return Download{std::move(*file), std::move(*body)};
}

Status delete_file(db::Database& db, FileStore& store, const Clock& clock, const Actor& actor,
                   std::string_view file_id, std::string_view ip) {
  if (!actor.is_staff()) {
    if (is_uuid(file_id)) {
      auto st = db.write([&](db::Tx& tx) -> Status {
        auto found = find_file(tx, file_id);
        if (!found) return std::move(found).error();
        if (!*found) return Ok{};
        return log_access(tx, clock, file_id, actor, "delete_denied", ip);
      });
      if (!st) return st;
    }
    return ApiError::forbidden("Your role may not use this endpoint");
  }
  if (!is_uuid(file_id)) return not_found("File");
  auto rows = db.query("SELECT sha256 FROM files WHERE id = $1", {std::string(file_id)});
  if (!rows) return std::move(rows).error();
  if (rows->empty()) return not_found("File");
  const std::string sha = rows->text(0, "sha256");

  std::lock_guard lock(store.lock_for(sha));
  std::int64_t remaining = 1;
  auto st = db.write([&](db::Tx& tx) -> Status {
    auto deleted = tx.exec("DELETE FROM files WHERE id = $1", {std::string(file_id)});
    if (!deleted) return std::move(deleted).error();
    if (*deleted == 0) return not_found("File");
    if (auto logged = log_access(tx, clock, file_id, actor, "delete", ip); !logged) return logged;
    auto n = references(tx, sha);
    if (!n) return std::move(n).error();
    remaining = *n;
    return Ok{};
  });
  if (!st) return st;
  if (remaining == 0) store.remove(sha);
  return Ok{};
}

namespace {

Result<std::vector<std::string>> hashes_of(db::Tx& tx, const char* sql, std::string_view id) {
  auto rows = tx.query(sql, {std::string(id)});
  if (!rows) return std::move(rows).error();
  std::vector<std::string> out;
  for (std::size_t i = 0; i < rows->size(); ++i) out.push_back(rows->text(i, "sha256"));
  return out;
}

// The distinct hashes `sql` (with $1 = `id`) lists are read in the deleting transaction and
// swept after its commit.
Status delete_sweeping(db::Database& db, FileStore& store, const char* sql, std::string_view id,
                       const std::function<Status(db::Tx&)>& remove) {
  std::vector<std::string> hashes;
  auto st = db.write([&](db::Tx& tx) -> Status {
    auto h = hashes_of(tx, sql, id);
    if (!h) return std::move(h).error();
    hashes = std::move(*h);
    return remove(tx);
  });
  if (!st) return st;
  for (const auto& sha : hashes) {
    std::lock_guard lock(store.lock_for(sha));
    std::int64_t remaining = 1;
    auto read = db.read([&](db::Tx& tx) -> Status {
      auto n = references(tx, sha);
      if (!n) return std::move(n).error();
      remaining = *n;
      return Ok{};
    });
    // A failed check keeps the blob: an orphan wastes space, a missing blob loses a document.
    if (read && remaining == 0) store.remove(sha);
  }
  return Ok{};
}

}  // namespace

Status delete_company_with_files(db::Database& db, FileStore& store, std::string_view company_id,
                                 const std::function<Status(db::Tx&)>& remove) {
  return delete_sweeping(db, store, "SELECT DISTINCT sha256 FROM files WHERE company_id = $1",
                         company_id, remove);
}

Status delete_project_with_files(db::Database& db, FileStore& store, std::string_view project_id,
                                 const std::function<Status(db::Tx&)>& remove) {
  return delete_sweeping(db, store,
                         "SELECT DISTINCT f.sha256 AS sha256 FROM files f JOIN companies c "
                         "ON c.id = f.company_id WHERE c.project_id = $1",
                         project_id, remove);
}

}  // namespace evald::domain
