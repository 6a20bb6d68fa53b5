#include "domain/csv.hpp"

#include <algorithm>

namespace evald::domain {

bool CsvRecord::blank() const {
  return std::all_of(fields.begin(), fields.end(), [](const std::string& f) { return f.empty(); });
}

namespace {

class Reader {
 public:
  Reader(std::string_view text, const CsvLimits& limits) : t_(text), limits_(limits) {}

  CsvReadResult run() {
    CsvReadResult out;
    if (t_.substr(0, kUtf8Bom.size()) == kUtf8Bom) i_ = kUtf8Bom.size();
    while (i_ < t_.size()) {
      if (out.records.size() >= limits_.max_records) {
        // The row is counted before `out` is moved: argument order is unspecified (clang
        // moved it first, and reported row 1).
        const std::size_t row = out.records.size() + 1;
        return fail(std::move(out), row,
                    "The file has more than " + std::to_string(limits_.max_records) + " rows",
                    "value_error.csv.limit");
      }
      CsvRecord rec;
      rec.row = out.records.size() + 1;
      if (auto err = read_record(rec)) return fail(std::move(out), rec.row, *err, code_);
      out.records.push_back(std::move(rec));
    }
    return out;
  }

 private:
  static CsvReadResult fail(CsvReadResult out, std::size_t row, std::string message,
                            std::string code) {
    out.error = CsvError{row, std::move(message), std::move(code)};
    return out;
  }

  // Reads one record ending at a line end or the end of the text; a message on failure.
  std::optional<std::string> read_record(CsvRecord& rec) {
    for (;;) {
      std::string field;
      if (i_ < t_.size() && t_[i_] == '"') {
        ++i_;
        for (;;) {
          if (i_ >= t_.size()) return syntax("A quoted field is not closed");
          const std::size_t q = t_.find('"', i_);
          if (q == std::string_view::npos) {
            i_ = t_.size();
            return syntax("A quoted field is not closed");
          }
          field.append(t_.substr(i_, q - i_));
          i_ = q + 1;
          if (i_ < t_.size() && t_[i_] == '"') {
            field += '"';
            ++i_;
            continue;
          }
          break;
        }
        if (field.size() > limits_.max_field_bytes) return too_big();
      } else {
        const std::size_t end = std::min(t_.find_first_of(",\r\n", i_), t_.size());
        const auto text = t_.substr(i_, end - i_);
        if (text.find('"') != std::string_view::npos) {
          return syntax("A quote inside an unquoted field (quote the whole field and double it)");
        }
        if (text.size() > limits_.max_field_bytes) return too_big();
        field.assign(text);
        i_ = end;
      }
      rec.fields.push_back(std::move(field));
      if (rec.fields.size() > limits_.max_fields) {
        code_ = "value_error.csv.limit";
        return "More than " + std::to_string(limits_.max_fields) + " fields in a row";
      }
      if (i_ >= t_.size()) return std::nullopt;
      const char c = t_[i_];
      if (c == ',') {
        ++i_;
        continue;  // at the very end, "a,b," still has a last, empty field
      }
      if (c == '\r') {
        ++i_;
        if (i_ < t_.size() && t_[i_] == '\n') ++i_;
        return std::nullopt;
      }
      if (c == '\n') {
        ++i_;
        return std::nullopt;
      }
      return syntax("Text after the closing quote of a field");
    }
  }

  std::string syntax(std::string message) {
    code_ = "value_error.csv";
    return message;
  }

  std::string too_big() {
    code_ = "value_error.csv.limit";
    return "A field is longer than " + std::to_string(limits_.max_field_bytes) + " bytes";
  }

  std::string_view t_;
  CsvLimits limits_;
  std::size_t i_ = 0;
  std::string code_ = "value_error.csv";
};

bool needs_quotes(std::string_view s) {
  if (s.find_first_of(",\"\r\n") != std::string_view::npos) return true;
  return !s.empty() && (s.front() == ' ' || s.back() == ' ');
}

}  // namespace

CsvReadResult read_csv(std::string_view text, const CsvLimits& limits) {
  return Reader(text, limits).run();
}

std::string csv_cell(std::string_view text) {
  std::string v;
  if (!text.empty() && std::string_view("=+-@\t\r").find(text.front()) != std::string_view::npos) {
    v += '\'';
  }
  v.append(text);
  if (!needs_quotes(v)) return v;
  std::string out;
  out.reserve(v.size() + 2);
  out += '"';
  for (char c : v) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string csv_line(const std::vector<std::string>& cells) {
  std::string out;
  for (std::size_t i = 0; i < cells.size(); ++i) {
    if (i) out += ',';
    out += csv_cell(cells[i]);
  }
  out += "\r\n";
  return out;
}

}  // namespace evald::domain
