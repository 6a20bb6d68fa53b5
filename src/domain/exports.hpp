#pragma once
/// Exports of a project (docs/DOMAIN.md, "Results and exports"): the results table and every
/// submitted (or reviewed) sheet's item scores, one row per sheet and item, as CSV (UTF-8 with a
/// BOM) or XLSX (sheets "Results" and "Scores"). Text that a spreadsheet would take for a formula
/// is neutralised with a leading apostrophe in both. The whole body is built in memory (bounded
/// by the project's size); run it on the worker pool.

#include <string>
#include <string_view>

#include "core/clock.hpp"
#include "core/result.hpp"
#include "db/database.hpp"

namespace evald::domain {

enum class ExportFormat { kCsv, kXlsx };

struct ExportFile {
  std::string body;
  std::string content_type;
  std::string file_name;   ///< "<project name>-results-<YYYYMMDD>.csv", sanitised
  std::string ascii_name;  ///< "project-results-<YYYYMMDD>.csv", for clients without filename*
};

/// 404 when the project does not exist. `temp_root` is where the XLSX writer gets a private
/// directory of its own (removed before returning).
Result<ExportFile> export_project(db::Database& db, std::string_view project_id,
                                  ExportFormat format, const Clock& clock,
                                  const std::string& temp_root);

/// A text cell's value with a leading apostrophe when it begins with '=', '+', '-', '@', tab or
/// carriage return (the rule of csv_cell, without CSV quoting: for XLSX cells).
std::string neutralize_formula(std::string_view text);

}  // namespace evald::domain
