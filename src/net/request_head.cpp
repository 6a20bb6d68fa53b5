#include "net/request_head.hpp"

#include <boost/asio/error.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/error.hpp>
#include <iterator>
#include <limits>

namespace evald::net {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = beast::http;

void prepare_parser(RequestParser& parser, const ServerSettings& s) {
  parser.header_limit(static_cast<std::uint32_t>(s.max_header_bytes));
  parser.body_limit((std::numeric_limits<std::uint64_t>::max)());
}

bool is_quiet_close(const boost::system::error_code& ec) {
  return ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message ||
         ec == asio::error::eof || ec == beast::error::timeout ||
         ec == asio::error::operation_aborted || ec == asio::error::connection_reset ||
         ec == asio::error::broken_pipe;
}

ApiError head_error(const boost::system::error_code& ec) {
  const bool too_big = ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow;
  return ApiError::validation(too_big ? "Request headers are too large" : "Malformed HTTP request");
}

std::optional<ApiError> check_head(RequestParser& parser, const ServerSettings& s) {
  const std::string_view target = parser.get().target();
  if (target.empty() || target.front() != '/') {
    return ApiError::validation("Request target must be an absolute path");
  }
  if (auto cl = parser.content_length(); cl && *cl > s.max_body_bytes) return too_large(s);
  parser.body_limit(s.max_body_bytes);
  return std::nullopt;
}

std::optional<ApiError> body_error(const boost::system::error_code& ec, const ServerSettings& s) {
  if (ec == bhttp::error::body_limit) return too_large(s);
  if (is_quiet_close(ec)) return std::nullopt;
  return ApiError::validation("Malformed HTTP request body");
}

ApiError too_large(const ServerSettings& s) {
  return ApiError::payload_too_large("Request body exceeds " + std::to_string(s.max_body_bytes) +
                                     " bytes");
}

http::Request to_request(bhttp::request<bhttp::string_body>&& msg) {
  http::Request req;
  req.method = std::string(msg.method_string());
  req.target = std::string(msg.target());
  req.version = msg.version();
  req.keep_alive = msg.keep_alive();
  const auto q = req.target.find('?');
  req.path = req.target.substr(0, q);
  if (q != std::string::npos) req.query = req.target.substr(q + 1);
  std::size_t fields = 0, bytes = 0;
  for (const auto& f : msg) {
    ++fields;
    bytes += f.name_string().size() + f.value().size();
  }
  req.headers.reserve(fields, bytes);
  for (const auto& f : msg) req.headers.add(f.name_string(), f.value());
  req.body = std::move(msg.body());
  return req;
}

}  // namespace evald::net
