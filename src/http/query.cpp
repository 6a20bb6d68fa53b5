#include "http/query.hpp"

#include <boost/url/parse_query.hpp>

namespace evald::http {

std::optional<std::string> query_param(std::string_view query, std::string_view name) {
  auto parsed = boost::urls::parse_query(query);
  if (!parsed) return std::nullopt;
  boost::urls::encoding_opts opts;
  opts.space_as_plus = true;
  for (const auto& p : *parsed) {
    if (p.key.decode(opts) == name) return p.value.decode(opts);
  }
  return std::nullopt;
}

}  // namespace evald::http
