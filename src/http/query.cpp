#include "http/query.hpp"

#include <boost/url/parse_query.hpp>

namespace evald::http {

std::optional<std::string> query_param(std::string_view query, std::string_view name) {
  auto parsed = boost::urls::parse_query(query);
  if (!parsed) return std::nullopt;
  for (const auto& p : *parsed) {
    if (p.key == name) return std::string(p.value);
  }
  return std::nullopt;
}

}  // namespace evald::http
