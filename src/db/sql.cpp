#include "db/sql.hpp"

#include <cctype>
#include <cstdint>
#include <cstring>

namespace evald::db {

std::string to_sqlite_placeholders(std::string_view sql) {
  std::string out;
  out.reserve(sql.size());
  char quote = 0;
  for (std::size_t i = 0; i < sql.size(); ++i) {
    const char c = sql[i];
    if (quote) {
      if (c == quote) quote = 0;
      out += c;
    } else if (c == '\'' || c == '"') {
      quote = c;
      out += c;
    } else if (c == '$' && i + 1 < sql.size() &&
               std::isdigit(static_cast<unsigned char>(sql[i + 1]))) {
      out += '?';
    } else {
      out += c;
    }
  }
  return out;
}

namespace {

std::string_view next_word(std::string_view s, std::size_t& pos) {
  while (pos < s.size() && std::isspace(static_cast<unsigned char>(s[pos]))) ++pos;
  const std::size_t start = pos;
  while (pos < s.size() && (std::isalnum(static_cast<unsigned char>(s[pos])) || s[pos] == '_' ||
                            s[pos] == '"' || s[pos] == '.')) {
    ++pos;
  }
  return s.substr(start, pos - start);
}

std::string lower(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c != '"') out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

}  // namespace

std::optional<std::string> written_table(std::string_view sql) {
  std::size_t pos = 0;
  std::string first = lower(next_word(sql, pos));
  if (first == "with") return std::nullopt;  // not used for writes here
  if (first == "insert" || first == "replace") {
    std::string w = lower(next_word(sql, pos));
    if (w == "or") {  // INSERT OR IGNORE INTO
      next_word(sql, pos);
      w = lower(next_word(sql, pos));
    }
    if (w != "into") return std::nullopt;
    return lower(next_word(sql, pos));
  }
  if (first == "update") return lower(next_word(sql, pos));
  if (first == "delete") {
    if (lower(next_word(sql, pos)) != "from") return std::nullopt;
    return lower(next_word(sql, pos));
  }
  if (first == "create" || first == "drop" || first == "alter") {
    std::string w = lower(next_word(sql, pos));
    if (w != "table") return std::nullopt;
    std::string name = lower(next_word(sql, pos));
    if (name == "if") {  // IF [NOT] EXISTS
      name = lower(next_word(sql, pos));
      if (name == "not") next_word(sql, pos);
      name = lower(next_word(sql, pos));
    }
    return name;
  }
  return std::nullopt;
}

std::string cache_key(std::string_view sql, const Params& params) {
  std::string key(sql);
  for (const auto& p : params) {
    key += '\x1f';
    switch (p.index()) {
      case 0:
        key += 'n';
        break;
      case 1:
        key += 'i' + std::to_string(std::get<1>(p));
        break;
      case 2: {  // the exact bits: two doubles that print alike are still different keys
        std::uint64_t bits = 0;
        const double d = std::get<2>(p);
        std::memcpy(&bits, &d, sizeof bits);
        key += 'd' + std::to_string(bits);
        break;
      }
      case 3:
        key += 's' + std::to_string(std::get<3>(p).size()) + ':';
        key += std::get<3>(p);
        break;
    }
  }
  return key;
}

ApiError unique_violation(const std::vector<std::string>& fields, std::string internal) {
  ApiError e{ErrorCode::kConflict,
             "A record with the same value already exists",
             {},
             0,
             std::move(internal)};
  for (const auto& f : fields) {
    e.details.push_back(FieldError{f, "already exists", "conflict.unique", std::nullopt});
  }
  return e;
}

ApiError foreign_key_violation(std::string internal) {
  return ApiError{ErrorCode::kConflict,
                  "A related record is missing or still in use",
                  {},
                  0,
                  std::move(internal)};
}

ApiError database_unavailable(std::string internal) {
  return ApiError{ErrorCode::kDatabaseError,
                  "The database is unavailable; try again shortly",
                  {},
                  503,
                  std::move(internal)};
}

ApiError database_failure(std::string internal) {
  return ApiError{
      ErrorCode::kDatabaseError, "A database error occurred", {}, 500, std::move(internal)};
}

}  // namespace evald::db
