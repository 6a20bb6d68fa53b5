#pragma once
/// CSV (RFC 4180) for imports and exports: a reader that accepts what spreadsheet programs write
/// (quoted fields, doubled quotes, CRLF, LF or CR line ends, a UTF-8 byte order mark) within
/// limits, and a writer that quotes as needed and neutralises formula injection.

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace evald::domain {

struct CsvLimits {
  std::size_t max_records = 10'001;      ///< records, the header included
  std::size_t max_fields = 64;           ///< fields in one record
  std::size_t max_field_bytes = 65'536;  ///< bytes in one field
};

/// One record, with its 1-based number in the file as a spreadsheet shows it (a record that
/// spans lines through a quoted line break is one row).
struct CsvRecord {
  std::size_t row = 0;
  std::vector<std::string> fields;
  /// True when the record is an empty line or only empty fields (",,,").
  bool blank() const;
};

struct CsvError {
  std::size_t row = 0;  ///< 1-based record where the problem is
  std::string message;
  std::string code;  ///< "value_error.csv", "value_error.csv.limit"
};

struct CsvReadResult {
  std::vector<CsvRecord> records;
  std::optional<CsvError> error;  ///< set: `records` is incomplete and must not be used
};

/// Reads the whole text. A leading UTF-8 BOM is skipped; a final line end does not make an
/// empty record. Refused: a quote inside an unquoted field, text after a closing quote, a quoted
/// field still open at the end, and anything past the limits.
CsvReadResult read_csv(std::string_view text, const CsvLimits& limits = {});

/// One cell for a CSV export. A value that begins with '=', '+', '-', '@', tab or carriage
/// return gets a leading apostrophe (a spreadsheet would read it as a formula); then the cell is
/// quoted, inner quotes doubled, when it holds a comma, a quote, a line break or outer spaces.
std::string csv_cell(std::string_view text);

/// The cells through csv_cell, joined by commas and ended with CRLF.
std::string csv_line(const std::vector<std::string>& cells);

/// The UTF-8 byte order mark, which spreadsheet programs need to read Korean right.
inline constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

}  // namespace evald::domain
