#pragma once
/// Exports of a project (docs/DOMAIN.md, "Results and exports"): the results table and every
/// submitted (or reviewed) sheet's item scores, one row per sheet and item, as CSV (UTF-8 with a
/// BOM) or XLSX (sheets "Results" and "Scores"). Text that a spreadsheet would take for a formula
/// is neutralised with a leading apostrophe in both. The export is written to a private
/// temporary file as the rows are read, a batch of companies at a time, and sent from there: the
/// process never holds the whole body. Run it on the worker pool.

#include <memory>
#include <string>
#include <string_view>

#include "core/clock.hpp"
#include "core/file_body.hpp"
#include "core/result.hpp"
#include "db/database.hpp"

namespace evald::domain {

enum class ExportFormat { kCsv, kXlsx };

struct ExportFile {
  std::shared_ptr<const FileBody> body;  ///< the finished file, already unlinked
  std::string content_type;
  std::string file_name;   ///< "<project name>-results-<YYYYMMDD>.csv", sanitised
  std::string ascii_name;  ///< "project-results-<YYYYMMDD>.csv", for clients without filename*
};

/// 404 when the project does not exist; 422 for XLSX when a sheet would exceed a spreadsheet's
/// rows. `temp_root` is where the export gets a private directory of its own (removed before
/// returning; the open file outlives it).
Result<ExportFile> export_project(db::Database& db, std::string_view project_id,
                                  ExportFormat format, const Clock& clock,
                                  const std::string& temp_root);

/// A text cell's value with a leading apostrophe when it begins with '=', '+', '-', '@', tab or
/// carriage return (the rule of csv_cell, without CSV quoting: for XLSX cells).
std::string neutralize_formula(std::string_view text);

}  // namespace evald::domain
