// /api/companies/{id}/files (upload, list) and /api/files/{id} (download, delete):
// docs/DOMAIN.md, Files.

#include <boost/json.hpp>
#include <memory>

#include "api/domain_kit.hpp"
#include "api/listing.hpp"
#include "api/routes.hpp"
#include "auth/service.hpp"
#include "domain/files.hpp"
#include "http/multipart.hpp"

namespace evald::api {
namespace {

namespace json = boost::json;
namespace asio = boost::asio;
using http::Request;
using http::RequestContext;
using http::Response;

// The one `file` part, and room for a client's stray fields to be reported rather than refused
// as a malformed body.
constexpr std::size_t kMaxParts = 8;

const char* const kFileSchema = R"J({"type":"object",
  "required":["id","company_id","original_name","content_type","size_bytes","sha256","uploader_id",
  "created_at"],
  "properties":{"id":{"type":"string","format":"uuid"},"company_id":{"type":"string","format":"uuid"},
  "original_name":{"type":"string","description":"the client's name, sanitised: no directories"},
  "content_type":{"type":"string","description":"decided by the content"},
  "size_bytes":{"type":"integer"},"sha256":{"type":"string","description":"hex SHA-256 of the bytes"},
  "uploader_id":{"type":["string","null"]},"created_at":{"type":"string","format":"date-time"}}})J";

const char* const kFileExample = R"J({"id":"3f2504e0-4f89-41d3-9a0c-0305e82c3301",
  "company_id":"1b4e28ba-2fa1-11d2-883f-0016d3cca427","original_name":"사업계획서.pdf",
  "content_type":"application/pdf","size_bytes":48213,
  "sha256":"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
  "uploader_id":"0b0f5a8e-5c55-4a8e-9d7c-2f1f4d1c9a10","created_at":"2026-03-01T09:00:00.000Z"})J";

const char* const kTypes =
    "PDF (.pdf), PNG (.png), JPEG (.jpg, .jpeg), Word, Excel and PowerPoint documents (.docx, "
    ".xlsx, .pptx), HWP (.hwp) and UTF-8 text (.txt, .csv)";

http::RouteSpec route(std::string method, std::string path, std::string summary,
                      std::vector<http::Role> roles, const char* id_doc, http::Handler handler) {
  auto r = api::route(std::move(method), std::move(path), "Files", std::move(summary), {},
                      std::move(roles), std::move(handler));
  id_param(r, "id", id_doc);
  return r;
}

ApiError file_problem(std::string message, std::string code) {
  return ApiError::validation("Request validation failed",
                              {FieldError{"file", std::move(message), std::move(code), {}}});
}

// The upload's one file part, checked: every problem with the form, or the upload to store.
Result<domain::Upload> read_upload(std::vector<http::FormPart>& parts, std::size_t max_bytes) {
  std::vector<FieldError> problems;
  http::FormPart* file = nullptr;
  for (auto& p : parts) {
    if (p.name != "file") {
      problems.push_back({p.name.empty() ? "body" : p.name, "Unknown field: only `file` is read",
                          "value_error.extra", std::nullopt});
    } else if (file != nullptr) {
      problems.push_back({"file", "Send one file per request", "value_error.extra", std::nullopt});
    } else {
      file = &p;
    }
  }
  if (file == nullptr) {
    problems.push_back({"file", "Field required", "value_error.missing", std::nullopt});
  } else if (!file->has_filename) {
    problems.push_back(
        {"file", "Must be a file (a part with a filename)", "value_error.file", std::nullopt});
  }
  if (!problems.empty()) return ApiError::validation("Request validation failed", problems);
  if (file->data.size() > max_bytes) {
    return ApiError::payload_too_large("The file is larger than the " + std::to_string(max_bytes) +
                                       " bytes allowed");
  }
  if (file->data.empty()) return file_problem("The file is empty", "value_error.file_empty");
  domain::Upload u;
  u.file_name = domain::sanitize_file_name(file->filename);
  const auto type = domain::sniff_file_type(file->data, u.file_name);
  if (!type) {
    return file_problem(std::string("Not an accepted file type, or the name's extension does not "
                                    "match the content. Accepted: ") +
                            kTypes,
                        "value_error.file_type");
  }
  u.type = *type;
  u.data = std::move(file->data);
  return u;
}

}  // namespace

std::vector<http::RouteSpec> file_routes(AppContext& app) {
  auto& db = *app.db;
  auto& workers = *app.workers;
  auto& auth = *app.auth;
  const Clock& clock = app.clock;
  const std::size_t max_upload = app.settings.files.max_upload_bytes;
  // Shared by the handlers (the table outlives them: the router keeps the routes).
  auto store = app.files;
  const std::vector<http::Role> staff{http::Role::kSecretary, http::Role::kAdmin};
  std::vector<http::RouteSpec> routes;

  auto upload =
      route("POST", "/api/companies/{id}/files", "Upload a company document", staff, "the company",
            [&, store, max_upload](Request& req, RequestContext& ctx) -> asio::awaitable<Response> {
              const std::string company_id(ctx.param("id"));
              const auto actor = actor_of(ctx);
              // Parsing, sniffing and hashing up to MAX_UPLOAD_BYTES is CPU work: on the pool.
              auto file = co_await workers.run([&]() -> Result<domain::FileRecord> {
                auto parts = http::parse_multipart(req, kMaxParts);
                if (!parts) return std::move(parts).error();
                auto upload = read_upload(*parts, max_upload);
                if (!upload) return std::move(upload).error();
                upload->company_id = company_id;
                upload->ip = ctx.client_ip;
                return domain::upload_file(db, *store, clock, actor, *upload);
              });
              if (!file) co_return Response::from_error(std::move(file).error());
              co_return ok_json(domain::file_json(*file), 201);
            });
  upload.description = std::string(
                           "`multipart/form-data` with one part named `file`. At most "
                           "MAX_UPLOAD_BYTES (413 beyond). The type is decided by the content "
                           "alone, and the name's extension must agree with it: ") +
                       kTypes +
                       ". Anything else, or a disguised file (an executable called .pdf, HTML "
                       "called .png), is 400 with `code: value_error.file_type`. The bytes are "
                       "stored once per SHA-256; the client's name is kept only as metadata, "
                       "sanitised (no directories, no control characters, at most 255 bytes). "
                       "Rate category `upload`.";
  upload.rate_category = http::RateCategory::kUpload;
  upload.request_body = http::BodyDoc{"multipart/form-data",
                                      schema(R"({"type":"object","required":["file"],"properties":{
        "file":{"type":"string","format":"binary"}}})"),
                                      {}};
  upload.responses = {
      {201, "Stored", "application/json", schema(kFileSchema), schema(kFileExample)},
      error_doc(400, "Not multipart, no file, or not an accepted file type"),
      error_doc(403, "Not a secretary or admin"),
      error_doc(404, "No such company"),
      error_doc(413, "Larger than MAX_UPLOAD_BYTES")};
  routes.push_back(std::move(upload));

  auto list =
      route("GET", "/api/companies/{id}/files", "A company's documents",
            {http::Role::kSecretary, http::Role::kAdmin, http::Role::kEvaluator}, "the company",
            [&](Request& req, RequestContext& ctx) -> asio::awaitable<Response> {
              const std::string company_id(ctx.param("id"));
              Where where;
              std::vector<FieldError> problems;
              where.add("company_id =", company_id);
              const Page page = read_page(req, where, problems);
              if (!problems.empty()) {
                co_return Response::from_error(ApiError::validation("Invalid query", problems));
              }
              const auto actor = actor_of(ctx);
              auto rows = co_await workers.run([&] {
                return domain::list_company_files(db, actor, company_id, where.sql(),
                                                  where.params(), newest_first(page));
              });
              if (!rows) co_return Response::from_error(std::move(rows).error());
              co_return ok_json(page_json(*rows, page, [](const db::Rows& r, std::size_t i) {
                return domain::file_json(domain::file_from_row(r, i));
              }));
            });
  list.description =
      "Newest first, paged with `limit` and `cursor`. An evaluator sees only the files of "
      "companies they have a sheet for; for any other company the answer is 404, as for an "
      "unknown one.";
  list_params(list);
  list.responses = {{200, "One page", "application/json", schema(list_schema(kFileSchema)),
                     schema(list_example(kFileExample))},
                    error_doc(400, "Bad limit or cursor"),
                    error_doc(404, "No such company (or not one of yours)")};
  routes.push_back(std::move(list));

  auto download =
      route("GET", "/api/files/{id}", "Download a document",
            {http::Role::kSecretary, http::Role::kAdmin, http::Role::kEvaluator}, "the file",
            [&, store](Request&, RequestContext& ctx) -> asio::awaitable<Response> {
              const std::string id(ctx.param("id"));
              const auto actor = actor_of(ctx);
              auto got = co_await workers.run([&] {
                return domain::download_file(db, *store, clock, actor, id, ctx.client_ip);
              });
              if (!got) co_return Response::from_error(std::move(got).error());
              Response res;
              res.status = 200;
              res.headers.set("Content-Type", got->file.content_type);
              res.headers.set("Content-Disposition",
                              domain::attachment_disposition(got->file.original_name));
              res.headers.set("X-Content-Type-Options", "nosniff");
              // Never rendered as a page of this origin, even if opened directly.
              res.headers.set("Content-Security-Policy", "default-src 'none'; sandbox");
              res.headers.set("Cache-Control", "private, no-store");
              res.file = std::move(got->body);
              co_return res;
            });
  download.description =
      "The exact bytes, as an attachment under the original name (`filename*` in UTF-8, with an "
      "ASCII fallback), with the Content-Type decided at upload and `X-Content-Type-Options: "
      "nosniff`. An evaluator may download only the files of companies they have a sheet for "
      "(404 otherwise; the refusal is logged). Every download is written to the file access "
      "log.";
  // The Content-Type decided at upload: one of the accepted kinds (domain/files.cpp).
  for (const char* type :
       {"application/pdf", "image/png", "image/jpeg",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/x-hwp", "text/plain; charset=utf-8", "text/csv; charset=utf-8"}) {
    download.responses.push_back(
        {200, "The file", type, schema(R"({"type":"string","format":"binary"})"), {}});
  }
  download.responses.push_back(error_doc(404, "No such file (or not one of yours)"));
  routes.push_back(std::move(download));

  // Any signed-in role reaches the handler, so that a refused delete of an existing file is
  // logged; the service answers 403 to anyone but staff, exactly as the role check would.
  auto del = route("DELETE", "/api/files/{id}", "Delete a document", {}, "the file",
                   [&, store](Request& req, RequestContext& ctx) -> asio::awaitable<Response> {
                     const std::string id(ctx.param("id"));
                     const auto actor = actor_of(ctx);
                     auto st = co_await workers.run([&] {
                       return domain::delete_file(db, *store, clock, actor, id, ctx.client_ip);
                     });
                     if (!st) {
                       if (st.error().code == ErrorCode::kInsufficientPermissions) {
                         const auto client = auth::client_info(req, ctx);
                         co_await workers.run([&] {
                           return auth.record("authz_fail", &*ctx.principal, "", client,
                                              req.method + " " + ctx.route->path);
                         });
                       }
                       co_return Response::from_error(st.error());
                     }
                     co_return no_content();
                   });
  del.description =
      "Secretary or admin (anyone else: 403, and an attempt on an existing file is logged). "
      "The record goes; the stored bytes go too once no other record has the same content. "
      "Written to the file access log.";
  del.responses = {{204, "Deleted", "application/json", {}, {}},
                   error_doc(403, "Not a secretary or admin"),
                   error_doc(404, "No such file")};
  routes.push_back(std::move(del));
  return routes;
}

}  // namespace evald::api
