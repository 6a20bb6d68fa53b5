#pragma once
/// The steps of reading a request that do not touch the socket: the parser's limits, the checks
/// of the head, the errors a client is answered with, and the conversion to http::Request and
/// back to the wire. The session (server.cpp) and the HTTP fuzz target (fuzz/) share them, so
/// that what is fuzzed is what serves.
///
/// Includes Beast: include it only where the session is (net/ and fuzz/), never in a handler.

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/system/error_code.hpp>
#include <optional>
#include <string>

#include "config/settings.hpp"
#include "core/error.hpp"
#include "http/message.hpp"

namespace evald::net {

using RequestParser = boost::beast::http::request_parser<boost::beast::http::string_body>;

/// A fresh parser with the session's limits: MAX_HEADER_BYTES for the head, and no body limit
/// until check_head has seen the head (so that an oversized Content-Length is answered 413
/// with the request's own id rather than failing the head).
void prepare_parser(RequestParser& parser, const ServerSettings& settings);

/// A read error that ends the connection without an answer (the client went, or timed out).
bool is_quiet_close(const boost::system::error_code& ec);

/// The answer to a head that could not be read (not a quiet close): too large or malformed.
ApiError head_error(const boost::system::error_code& ec);

/// Checks a parsed head: the target is an absolute path and a declared Content-Length is at
/// most MAX_BODY_BYTES. On success, sets the parser's body limit to MAX_BODY_BYTES.
std::optional<ApiError> check_head(RequestParser& parser, const ServerSettings& settings);

/// The answer to a body that could not be read; nullopt for a quiet close.
std::optional<ApiError> body_error(const boost::system::error_code& ec,
                                   const ServerSettings& settings);

/// 413 for a body over MAX_BODY_BYTES.
ApiError too_large(const ServerSettings& settings);

/// evald's Request from a complete message (the path and query split at the first '?').
http::Request to_request(boost::beast::http::request<boost::beast::http::string_body>&& msg);

/// The status line and headers of a response; the body goes out beside them. CR and LF are
/// dropped from header values, so that no value can split the response. (In server.cpp.)
std::string serialize_head(const http::Response& res, unsigned version, bool keep_alive);

}  // namespace evald::net
