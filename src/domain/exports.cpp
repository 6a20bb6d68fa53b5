#include "domain/exports.hpp"

#include <fmt/format.h>
#include <stdlib.h>
#include <xlsxwriter.h>

#include <cstdio>
#include <filesystem>
#include <vector>

#include "core/file_body.hpp"
#include "core/scope_exit.hpp"
#include "core/time_format.hpp"
#include "domain/csv.hpp"
#include "domain/domain.hpp"
#include "domain/files.hpp"
#include "domain/results.hpp"

namespace evald::domain {
namespace {

namespace fs = std::filesystem;

// Every counted sheet's items, scored or not, in a stable order: company, evaluator, sheet, item.
// Run for one batch of companies at a time ($2...), so that no more than a batch's rows are held.
constexpr const char* kScoresSelect =
    "SELECT c.name AS company_name, c.registration_number, u.user_name AS evaluator_name, "
    "t.name AS template_name, i.category, i.name AS item_name, i.min_score, i.max_score, "
    "i.weight, sc.score, sc.opinion, s.status, s.total_score, s.weighted_score, s.submitted_at "
    "FROM evaluation_sheets s "
    "JOIN companies c ON c.id = s.company_id "
    "JOIN users u ON u.id = s.evaluator_id "
    "JOIN templates t ON t.id = s.template_id "
    "JOIN template_items i ON i.template_id = s.template_id "
    "LEFT JOIN scores sc ON sc.sheet_id = s.id AND sc.item_id = i.id "
    "WHERE s.project_id = $1 AND s.status IN ('submitted', 'reviewed') AND s.company_id IN (";
constexpr const char* kScoresOrder =
    ") ORDER BY c.name, c.id, u.user_name, s.evaluator_id, s.id, i.sort_order, i.id";
// The companies in the same order as the scores, batched by kBatch.
constexpr const char* kCompaniesSql =
    "SELECT id FROM companies WHERE project_id = $1 ORDER BY name, id";
constexpr const char* kScoreRowsSql =
    "SELECT COUNT(*) AS n FROM evaluation_sheets s "
    "JOIN template_items i ON i.template_id = s.template_id "
    "WHERE s.project_id = $1 AND s.status IN ('submitted', 'reviewed')";
constexpr std::size_t kBatch = 100;

// A cell: text, a number, or empty.
struct Cell {
  enum class Kind { kEmpty, kText, kNumber } kind = Kind::kEmpty;
  std::string text;
  double number = 0;
  bool two_decimals = false;  ///< means and deviations; scores keep their own digits

  static Cell of(std::string s) { return Cell{Kind::kText, std::move(s), 0, false}; }
  static Cell num(std::optional<double> v, bool rounded = false) {
    return v ? Cell{Kind::kNumber, {}, *v, rounded} : Cell{};
  }
  static Cell integer(std::int64_t v) {
    return Cell{Kind::kNumber, {}, static_cast<double>(v), false};
  }
};

using Row = std::vector<Cell>;

std::optional<double> opt_real(const db::Rows& rows, std::size_t i, std::string_view col) {
  if (rows.null_at(i, col)) return std::nullopt;
  return rows.real(i, col);
}

Cell opt_text(const db::Rows& rows, std::size_t i, std::string_view col) {
  if (rows.null_at(i, col)) return Cell{};
  return Cell::of(rows.text(i, col));
}

Row header(std::initializer_list<const char*> names) {
  Row r;
  for (const char* n : names) r.push_back(Cell::of(n));
  return r;
}

const Row kResultsHeader = header({"rank", "company", "registration_number", "assigned",
                                   "submitted", "mean_total", "mean_weighted", "stddev_weighted"});
const Row kScoresHeader =
    header({"company", "registration_number", "evaluator", "template", "category", "item", "score",
            "min_score", "max_score", "weight", "opinion", "sheet_status", "sheet_total",
            "sheet_weighted", "submitted_at"});

Row result_row(const CompanyResult& c) {
  return {c.rank ? Cell::integer(*c.rank) : Cell{},
          Cell::of(c.name),
          Cell::of(c.registration_number),
          Cell::integer(c.assigned),
          Cell::integer(c.submitted),
          Cell::num(c.mean_total, true),
          Cell::num(c.mean_weighted, true),
          Cell::num(c.stddev_weighted, true)};
}

Row score_row(const db::Rows& s, std::size_t i) {
  return {Cell::of(s.text(i, "company_name")),
          Cell::of(s.text(i, "registration_number")),
          Cell::of(s.text(i, "evaluator_name")),
          Cell::of(s.text(i, "template_name")),
          opt_text(s, i, "category"),
          Cell::of(s.text(i, "item_name")),
          Cell::num(opt_real(s, i, "score")),
          Cell::num(opt_real(s, i, "min_score")),
          Cell::num(opt_real(s, i, "max_score")),
          Cell::num(opt_real(s, i, "weight")),
          opt_text(s, i, "opinion"),
          Cell::of(s.text(i, "status")),
          Cell::num(opt_real(s, i, "total_score")),
          Cell::num(opt_real(s, i, "weighted_score"), true),
          opt_text(s, i, "submitted_at")};
}

std::string number_text(const Cell& c) {
  return c.two_decimals ? fmt::format("{:.2f}", c.number) : fmt::format("{}", c.number);
}

// Where the rows go: sections (titled tables) written row by row to a file.
class Sink {
 public:
  virtual ~Sink() = default;
  virtual Status table(const std::string& title, const Row& header) = 0;
  virtual Status row(const Row& row) = 0;
  /// Completes the file; nothing may be written afterwards.
  virtual Status close() = 0;
};

// UTF-8 with a BOM; sections under a title row and a header row, a blank line between them.
class CsvSink final : public Sink {
 public:
  explicit CsvSink(const std::string& path) : out_(std::fopen(path.c_str(), "wbx")) {
    if (out_ != nullptr) std::fwrite(kUtf8Bom.data(), 1, kUtf8Bom.size(), out_);
  }
  ~CsvSink() override {
    if (out_ != nullptr) std::fclose(out_);
  }
  bool opened() const { return out_ != nullptr; }

  Status table(const std::string& title, const Row& header) override {
    if (tables_++ > 0) put("\r\n");
    put(csv_line({title}));
    return row(header);
  }
  Status row(const Row& row) override {
    cells_.clear();
    for (const auto& c : row)
      cells_.push_back(c.kind == Cell::Kind::kNumber ? number_text(c) : c.text);
    put(csv_line(cells_));
    if (std::ferror(out_)) return ApiError::internal("csv export: write failed");
    return Ok{};
  }
  Status close() override {
    const bool failed = std::fflush(out_) != 0 || std::ferror(out_) != 0;
    const bool closed = std::fclose(out_) == 0;
    out_ = nullptr;
    if (failed || !closed) return ApiError::internal("csv export: write failed");
    return Ok{};
  }

 private:
  void put(const std::string& s) { std::fwrite(s.data(), 1, s.size(), out_); }
  std::FILE* out_;
  int tables_ = 0;
  std::vector<std::string> cells_;
};

ApiError xlsx_error(const char* what, lxw_error e) {
  return ApiError::internal(std::string("xlsx export: ") + what + ": " + lxw_strerror(e));
}

// A worksheet per section; libxlsxwriter's constant-memory mode sends each row to disk as soon
// as the next begins.
class XlsxSink final : public Sink {
 public:
  XlsxSink(const std::string& path, std::string tmpdir) : tmpdir_(std::move(tmpdir)) {
    lxw_workbook_options options{};
    options.constant_memory = LXW_TRUE;
    options.tmpdir = tmpdir_.data();
    wb_ = workbook_new_opt(path.c_str(), &options);
    if (wb_ == nullptr) return;
    bold_ = workbook_add_format(wb_);
    format_set_bold(bold_);
    two_ = workbook_add_format(wb_);
    format_set_num_format(two_, "0.00");
  }
  ~XlsxSink() override {
    if (wb_ != nullptr) workbook_close(wb_);
  }
  bool opened() const { return wb_ != nullptr; }

  Status table(const std::string& title, const Row& header) override {
    ws_ = workbook_add_worksheet(wb_, title.c_str());
    if (ws_ == nullptr) return xlsx_error("add worksheet", LXW_ERROR_MEMORY_MALLOC_FAILED);
    worksheet_set_column(ws_, 0, static_cast<lxw_col_t>(header.size() - 1), 16, nullptr);
    worksheet_freeze_panes(ws_, 1, 0);
    next_ = 0;
    return write(header, bold_);
  }
  Status row(const Row& row) override { return write(row, nullptr); }
  Status close() override {
    const lxw_error closed = workbook_close(wb_);  // frees the workbook in every case
    wb_ = nullptr;
    if (closed != LXW_NO_ERROR) return xlsx_error("close", closed);
    return Ok{};
  }

 private:
  Status write(const Row& row, lxw_format* text_format) {
    if (next_ >= LXW_ROW_MAX) {
      return business("The export has more rows than a spreadsheet holds; export CSV instead");
    }
    const auto r = static_cast<lxw_row_t>(next_++);
    for (std::size_t c = 0; c < row.size(); ++c) {
      const auto col = static_cast<lxw_col_t>(c);
      const Cell& cell = row[c];
      lxw_error e = LXW_NO_ERROR;
      if (cell.kind == Cell::Kind::kText) {
        // Always a string cell, never a formula; neutralised as in the CSV all the same.
        e = worksheet_write_string(ws_, r, col, neutralize_formula(cell.text).c_str(), text_format);
      } else if (cell.kind == Cell::Kind::kNumber) {
        e = worksheet_write_number(ws_, r, col, cell.number, cell.two_decimals ? two_ : nullptr);
      }
      if (e != LXW_NO_ERROR) return xlsx_error("write", e);
    }
    return Ok{};
  }

  std::string tmpdir_;
  lxw_workbook* wb_ = nullptr;
  lxw_worksheet* ws_ = nullptr;
  lxw_format* bold_ = nullptr;
  lxw_format* two_ = nullptr;
  std::uint64_t next_ = 0;
};

// Both sections, read in one transaction (a consistent snapshot) and written as they are read.
Status write_export(db::Tx& tx, std::string_view project_id, const ProjectResults& results,
                    Sink& sink) {
  if (auto st = sink.table("Results", kResultsHeader); !st) return st;
  for (const auto& c : results.companies) {
    if (auto st = sink.row(result_row(c)); !st) return st;
  }
  if (auto st = sink.table("Scores", kScoresHeader); !st) return st;
  auto companies = tx.query(kCompaniesSql, {std::string(project_id)});
  if (!companies) return std::move(companies).error();
  for (std::size_t from = 0; from < companies->size(); from += kBatch) {
    const std::size_t to = std::min(companies->size(), from + kBatch);
    std::string sql = kScoresSelect;
    db::Params params{std::string(project_id)};
    for (std::size_t i = from; i < to; ++i) {
      params.emplace_back(companies->text(i, "id"));
      sql += (i == from ? "$" : ", $") + std::to_string(params.size());
    }
    sql += kScoresOrder;
    auto scores = tx.query(sql, params);
    if (!scores) return std::move(scores).error();
    for (std::size_t i = 0; i < scores->size(); ++i) {
      if (auto st = sink.row(score_row(*scores, i)); !st) return st;
    }
  }
  return Ok{};
}

std::string date_stamp(const Clock& clock) {
  const std::string iso = format_iso8601(clock.now());  // 2026-03-01T09:00:00Z
  return iso.substr(0, 4) + iso.substr(5, 2) + iso.substr(8, 2);
}

}  // namespace

std::string neutralize_formula(std::string_view text) {
  if (!text.empty() && std::string_view("=+-@\t\r").find(text.front()) != std::string_view::npos) {
    return "'" + std::string(text);
  }
  return std::string(text);
}

Result<ExportFile> export_project(db::Database& db, std::string_view project_id,
                                  ExportFormat format, const Clock& clock,
                                  const std::string& temp_root) {
  // A private directory (0700) for the file and the XLSX writer's own temporary files; it is
  // removed once the finished file is open, which keeps the bytes until the response is sent.
  std::string dir_template = (fs::path(temp_root) / "evald-export-XXXXXX").string();
  if (::mkdtemp(dir_template.data()) == nullptr) {
    return ApiError::internal("export: cannot create a temporary directory in " + temp_root);
  }
  const fs::path dir(dir_template);
  ScopeExit cleanup([&] {
    std::error_code ec;
    fs::remove_all(dir, ec);
  });
  const bool csv = format == ExportFormat::kCsv;
  const std::string ext = csv ? ".csv" : ".xlsx";
  const std::string path = (dir / ("export" + ext)).string();

  std::string project_name;
  auto st = db.read([&](db::Tx& tx) -> Status {
    auto r = project_results(tx, project_id);
    if (!r) return std::move(r).error();
    project_name = r->project_name;
    if (!csv) {  // refuse before writing anything a spreadsheet could not hold
      auto n = tx.query(kScoreRowsSql, {std::string(project_id)});
      if (!n) return std::move(n).error();
      if (std::max<std::int64_t>(n->integer(0, "n"), r->companies.size()) + 1 >= LXW_ROW_MAX) {
        return business("The export has more rows than a spreadsheet holds; export CSV instead");
      }
      XlsxSink sink(path, dir_template);
      if (!sink.opened()) return ApiError::internal("xlsx export: cannot create the workbook");
      if (auto w = write_export(tx, project_id, *r, sink); !w) return w;
      return sink.close();
    }
    CsvSink sink(path);
    if (!sink.opened()) return ApiError::internal("csv export: cannot create the file");
    if (auto w = write_export(tx, project_id, *r, sink); !w) return w;
    return sink.close();
  });
  if (!st) return std::move(st).error();

  auto body = FileBody::open(path);
  if (!body) return std::move(body).error();
  ExportFile out;
  out.body = std::move(*body);
  out.file_name = sanitize_file_name(project_name + "-results-" + date_stamp(clock) + ext);
  out.ascii_name = "project-results-" + date_stamp(clock) + ext;
  out.content_type = csv ? "text/csv; charset=utf-8"
                         : "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
  return out;
}

}  // namespace evald::domain
