#pragma once
/// Per-request state shared by the middleware and the handler.

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/clock.hpp"

namespace evald::http {

struct RouteSpec;

/// The claims of a bearer token whose signature and lifetime were checked (the session not yet):
/// whichever layer verifies it first leaves it here, so the token is verified once.
struct VerifiedToken {
  std::string user_id;
  std::string role;
  std::string raw_session_id;
};

/// The signed-in caller, set by the authentication layer.
struct Principal {
  std::string user_id;
  std::string role;
  std::string session_id;  ///< the public (hashed) session id
};

struct RequestContext {
  std::string request_id;
  SteadyTime start{};
  std::string peer_ip;    ///< socket peer
  std::string client_ip;  ///< peer, or from X-Forwarded-For when the peer is a trusted proxy
  bool tls = false;
  unsigned thread_index = 0;
  /// The matched route; null when the path or method is unknown.
  const RouteSpec* route = nullptr;
  std::vector<std::pair<std::string, std::string>> path_params;
  /// When the path exists but not for this method: the Allow header value.
  std::string allow;
  /// Set by authentication: responses of signed-in requests are not cached.
  bool authenticated = false;
  std::optional<Principal> principal;
  std::optional<VerifiedToken> token;

  /// The decoded value of a path parameter, or empty.
  std::string_view param(std::string_view name) const {
    for (const auto& [k, v] : path_params) {
      if (k == name) return v;
    }
    return {};
  }
};

}  // namespace evald::http
