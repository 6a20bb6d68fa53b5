#pragma once

#include "http/message.hpp"

namespace evald::http {

/// Headers every response carries. Errors and signed-in responses are never cached; a handler
/// that sets its own Cache-Control (static assets) keeps it.
void apply_security_headers(Response& response, bool tls, bool authenticated);

}  // namespace evald::http
