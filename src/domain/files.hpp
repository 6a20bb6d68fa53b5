#pragma once
/// Company documents (docs/DOMAIN.md, Files): the type decided by the content, the client's name
/// sanitised and kept only as metadata, the bytes stored once per SHA-256 under DATA_DIR/files/,
/// and every upload, download and delete (refused ones included) in file_access_log.

#include <array>
#include <boost/json/object.hpp>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.hpp"
#include "core/file_body.hpp"
#include "core/result.hpp"
#include "db/database.hpp"
#include "domain/domain.hpp"

namespace evald::domain {

/// A kind of document the server accepts, as sniffed from the bytes.
struct FileType {
  std::string_view kind;          ///< "pdf", "png", "jpeg", "docx", "xlsx", "pptx", "hwp", "txt"...
  std::string_view content_type;  ///< what downloads are served as
};

/// The type of `data` when it is an accepted document AND the extension of `file_name` agrees
/// with it (.pdf for PDF, .png, .jpg/.jpeg, .docx/.xlsx/.pptx by the package's own parts, .hwp
/// for an OLE2 HWP document, .txt/.csv for valid UTF-8 text without NUL or markup); nullopt
/// otherwise, whatever the name or a declared type say.
std::optional<FileType> sniff_file_type(std::string_view data, std::string_view file_name);

/// The client's name made safe to keep and to show: the last path component (either slash),
/// no control, bidirectional-override or invalid UTF-8 characters, no leading or trailing dots
/// and spaces, at most 255 bytes (the extension kept); "file" when nothing is left.
std::string sanitize_file_name(std::string_view name);

/// `attachment; filename="<ASCII fallback>"; filename*=UTF-8''<percent-encoded name>`. The
/// fallback (for old clients) is `ascii_fallback` when given, else the name with each run of
/// other characters as one '_' ("download" plus the extension when no letter or digit is left).
std::string attachment_disposition(std::string_view name, std::string_view ascii_fallback = {});

/// The blobs: DATA_DIR/files/ab/cd/<sha256>, written to a temporary file in the same directory,
/// fsynced and renamed, so a reader never sees half a file. Identical content is stored once.
class FileStore {
 public:
  explicit FileStore(std::filesystem::path data_dir);

  std::filesystem::path path_of(std::string_view sha256) const;
  /// Stores `data` under its hash unless a blob is already there.
  Status put(std::string_view sha256, std::string_view data) const;
  /// The blob, open for reading (its bytes stay readable even if it is removed meanwhile).
  Result<std::shared_ptr<const FileBody>> open(std::string_view sha256) const;
  /// Removes the blob (nothing when it is absent).
  void remove(std::string_view sha256) const;
  /// Serialises storing and removing one hash within this process, so that a delete never
  /// removes a blob an upload of the same content is about to reference.
  std::mutex& lock_for(std::string_view sha256);

 private:
  std::filesystem::path root_;
  std::array<std::mutex, 64> stripes_;
};

struct FileRecord {
  std::string id;
  std::string company_id;
  std::string uploader_id;  ///< empty when the uploader was deleted
  std::string original_name;
  std::string content_type;
  std::int64_t size_bytes = 0;
  std::string sha256;
  std::string created_at;
};

boost::json::object file_json(const FileRecord& f);

/// Deletes a company, or a project with its companies, in one transaction (`remove`), then the
/// blobs of their files that no other file row references (the rows go by cascade). Each blob
/// is removed under its hash's lock, like a single delete, so a concurrent upload of the same
/// content keeps it.
Status delete_company_with_files(db::Database& db, FileStore& store, std::string_view company_id,
                                 const std::function<Status(db::Tx&)>& remove);
Status delete_project_with_files(db::Database& db, FileStore& store, std::string_view project_id,
                                 const std::function<Status(db::Tx&)>& remove);

/// Whether `actor` may see the company's files: staff always; an evaluator only with a sheet
/// for the company. Not found (404) when the company does not exist or may not be seen.
Status check_company_access(db::Tx& tx, const Actor& actor, std::string_view company_id);

struct Upload {
  std::string company_id;
  std::string file_name;  ///< sanitised
  FileType type;
  std::string data;
  std::string ip;
};

/// Stores the blob and inserts the row and its "upload" log entry in one transaction; the
/// company must exist (404).
Result<FileRecord> upload_file(db::Database& db, FileStore& store, const Clock& clock,
                               const Actor& actor, const Upload& upload);

/// One page of a company's files, newest first; `where_sql`/`params` come from the listing.
Result<db::Rows> list_company_files(db::Database& db, const Actor& actor,
                                    std::string_view company_id, const std::string& where_sql,
                                    const db::Params& params, const std::string& order_sql);
FileRecord file_from_row(const db::Rows& rows, std::size_t i);

struct Download {
  FileRecord file;
  std::shared_ptr<const FileBody> body;
};

/// The file and its open blob for `actor` (404 when unknown or not visible); logs "download", or
/// "download_denied" for an evaluator without a sheet for the company.
Result<Download> download_file(db::Database& db, FileStore& store, const Clock& clock,
                               const Actor& actor, std::string_view file_id, std::string_view ip);

/// Deletes the row (staff only: 403 otherwise, logged as "delete_denied" when the file exists)
/// and its blob once no other row references the hash; logs "delete".
Status delete_file(db::Database& db, FileStore& store, const Clock& clock, const Actor& actor,
                   std::string_view file_id, std::string_view ip);

}  // namespace evald::domain
