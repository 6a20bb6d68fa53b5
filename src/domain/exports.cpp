#include "domain/exports.hpp"

#include <fmt/format.h>
#include <stdlib.h>
#include <xlsxwriter.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

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
constexpr const char* kScoresSql =
    "SELECT c.name AS company_name, c.registration_number, u.user_name AS evaluator_name, "
    "t.name AS template_name, i.category, i.name AS item_name, i.min_score, i.max_score, "
    "i.weight, sc.score, sc.opinion, s.status, s.total_score, s.weighted_score, s.submitted_at "
    "FROM evaluation_sheets s "
    "JOIN companies c ON c.id = s.company_id "
    "JOIN users u ON u.id = s.evaluator_id "
    "JOIN templates t ON t.id = s.template_id "
    "JOIN template_items i ON i.template_id = s.template_id "
    "LEFT JOIN scores sc ON sc.sheet_id = s.id AND sc.item_id = i.id "
    "WHERE s.project_id = $1 AND s.status IN ('submitted', 'reviewed') "
    "ORDER BY c.name, c.id, u.user_name, s.evaluator_id, s.id, i.sort_order, i.id";

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

struct Table {
  std::string title;
  Row header;
  std::vector<Row> rows;
};

std::optional<double> opt_real(const db::Rows& rows, std::size_t i, std::string_view col) {
  if (rows.null_at(i, col)) return std::nullopt;
  return rows.real(i, col);
}

Cell opt_text(const db::Rows& rows, std::size_t i, std::string_view col) {
  if (rows.null_at(i, col)) return Cell{};
  return Cell::of(rows.text(i, col));
}

Table results_table(const ProjectResults& r) {
  Table t{"Results",
          {Cell::of("rank"), Cell::of("company"), Cell::of("registration_number"),
           Cell::of("assigned"), Cell::of("submitted"), Cell::of("mean_total"),
           Cell::of("mean_weighted"), Cell::of("stddev_weighted")},
          {}};
  for (const auto& c : r.companies) {
    t.rows.push_back({c.rank ? Cell::integer(*c.rank) : Cell{}, Cell::of(c.name),
                      Cell::of(c.registration_number), Cell::integer(c.assigned),
                      Cell::integer(c.submitted), Cell::num(c.mean_total, true),
                      Cell::num(c.mean_weighted, true), Cell::num(c.stddev_weighted, true)});
  }
  return t;
}

Table scores_table(const db::Rows& s) {
  Table t{"Scores",
          {Cell::of("company"), Cell::of("registration_number"), Cell::of("evaluator"),
           Cell::of("template"), Cell::of("category"), Cell::of("item"), Cell::of("score"),
           Cell::of("min_score"), Cell::of("max_score"), Cell::of("weight"), Cell::of("opinion"),
           Cell::of("sheet_status"), Cell::of("sheet_total"), Cell::of("sheet_weighted"),
           Cell::of("submitted_at")},
          {}};
  t.rows.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    t.rows.push_back(
        {Cell::of(s.text(i, "company_name")), Cell::of(s.text(i, "registration_number")),
         Cell::of(s.text(i, "evaluator_name")), Cell::of(s.text(i, "template_name")),
         opt_text(s, i, "category"), Cell::of(s.text(i, "item_name")),
         Cell::num(opt_real(s, i, "score")), Cell::num(opt_real(s, i, "min_score")),
         Cell::num(opt_real(s, i, "max_score")), Cell::num(opt_real(s, i, "weight")),
         opt_text(s, i, "opinion"), Cell::of(s.text(i, "status")),
         Cell::num(opt_real(s, i, "total_score")),
         Cell::num(opt_real(s, i, "weighted_score"), true), opt_text(s, i, "submitted_at")});
  }
  return t;
}

std::string number_text(const Cell& c) {
  return c.two_decimals ? fmt::format("{:.2f}", c.number) : fmt::format("{}", c.number);
}

std::string to_csv(const std::vector<Table>& tables) {
  std::string out(kUtf8Bom);
  std::vector<std::string> cells;
  auto add = [&](const Row& row) {
    cells.clear();
    for (const auto& c : row) {
      cells.push_back(c.kind == Cell::Kind::kNumber ? number_text(c) : c.text);
    }
    out += csv_line(cells);
  };
  for (std::size_t k = 0; k < tables.size(); ++k) {
    if (k > 0) out += "\r\n";  // a blank line between the sections
    out += csv_line({tables[k].title});
    add(tables[k].header);
    for (const auto& row : tables[k].rows) add(row);
  }
  return out;
}

ApiError xlsx_error(const char* what, lxw_error e) {
  return ApiError::internal(std::string("xlsx export: ") + what + ": " + lxw_strerror(e));
}

Result<std::string> to_xlsx(const std::vector<Table>& tables, const std::string& temp_root) {
  for (const auto& t : tables) {
    if (t.rows.size() + 1 >= LXW_ROW_MAX) {
      return business("The export has more rows than a spreadsheet holds; export CSV instead");
    }
  }
  // A private directory (0700) for the workbook and the writer's own temporary files.
  std::string dir_template = (fs::path(temp_root) / "evald-export-XXXXXX").string();
  if (::mkdtemp(dir_template.data()) == nullptr) {
    return ApiError::internal("xlsx export: cannot create a temporary directory in " + temp_root);
  }
  const fs::path dir(dir_template);
  ScopeExit cleanup([&] {
    std::error_code ec;
    fs::remove_all(dir, ec);
  });
  const std::string path = (dir / "export.xlsx").string();
  lxw_workbook_options options{};
  options.constant_memory = LXW_TRUE;  // rows go to disk as they are written
  options.tmpdir = dir_template.data();
  lxw_workbook* wb = workbook_new_opt(path.c_str(), &options);
  if (wb == nullptr) return ApiError::internal("xlsx export: cannot create the workbook");
  lxw_format* bold = workbook_add_format(wb);
  format_set_bold(bold);
  lxw_format* two = workbook_add_format(wb);
  format_set_num_format(two, "0.00");

  lxw_error failed = LXW_NO_ERROR;
  for (const auto& t : tables) {
    lxw_worksheet* ws = workbook_add_worksheet(wb, t.title.c_str());
    if (ws == nullptr) {
      failed = LXW_ERROR_MEMORY_MALLOC_FAILED;
      break;
    }
    worksheet_set_column(ws, 0, static_cast<lxw_col_t>(t.header.size() - 1), 16, nullptr);
    worksheet_freeze_panes(ws, 1, 0);
    auto write_row = [&](lxw_row_t r, const Row& row, lxw_format* text_format) {
      for (std::size_t c = 0; c < row.size() && failed == LXW_NO_ERROR; ++c) {
        const auto col = static_cast<lxw_col_t>(c);
        const Cell& cell = row[c];
        if (cell.kind == Cell::Kind::kText) {
          // Always a string cell, never a formula; neutralised as in the CSV all the same.
          failed = worksheet_write_string(ws, r, col, neutralize_formula(cell.text).c_str(),
                                          text_format);
        } else if (cell.kind == Cell::Kind::kNumber) {
          failed =
              worksheet_write_number(ws, r, col, cell.number, cell.two_decimals ? two : nullptr);
        }
      }
    };
    write_row(0, t.header, bold);
    for (std::size_t r = 0; r < t.rows.size() && failed == LXW_NO_ERROR; ++r) {
      write_row(static_cast<lxw_row_t>(r + 1), t.rows[r], nullptr);
    }
    if (failed != LXW_NO_ERROR) break;
  }
  const lxw_error closed = workbook_close(wb);  // frees the workbook in every case
  if (failed != LXW_NO_ERROR) return xlsx_error("write", failed);
  if (closed != LXW_NO_ERROR) return xlsx_error("close", closed);
  std::ifstream in(path, std::ios::binary);
  if (!in) return ApiError::internal("xlsx export: the workbook was not written");
  std::ostringstream body;
  body << in.rdbuf();
  return std::move(body).str();
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
  std::optional<ProjectResults> results;
  std::optional<db::Rows> scores;
  auto st = db.read([&](db::Tx& tx) -> Status {
    auto r = project_results(tx, project_id);
    if (!r) return std::move(r).error();
    results = std::move(*r);
    auto s = tx.query(kScoresSql, {std::string(project_id)});
    if (!s) return std::move(s).error();
    scores = std::move(*s);
    return Ok{};
  });
  if (!st) return std::move(st).error();
  std::vector<Table> tables;
  tables.push_back(results_table(*results));
  tables.push_back(scores_table(*scores));
  scores.reset();

  ExportFile out;
  const std::string ext = format == ExportFormat::kCsv ? ".csv" : ".xlsx";
  out.file_name = sanitize_file_name(results->project_name + "-results-" + date_stamp(clock) + ext);
  out.ascii_name = "project-results-" + date_stamp(clock) + ext;
  if (format == ExportFormat::kCsv) {
    out.content_type = "text/csv; charset=utf-8";
    out.body = to_csv(tables);
    return out;
  }
  out.content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
  auto body = to_xlsx(tables, temp_root);
  if (!body) return std::move(body).error();
  out.body = std::move(*body);
  return out;
}

}  // namespace evald::domain
