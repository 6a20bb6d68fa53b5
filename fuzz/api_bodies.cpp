// JSON request bodies of the main endpoints: sign-in and the auth forms, users and evaluators,
// secretary sign-up, projects, companies (one, a batch, a CSV or multipart import), templates,
// assignments and evaluation sheets. Each input is a request script (common/api_harness.hpp)
// run through the route's real handler (its input reading and validation, then the domain
// service) on a seeded scratch SQLite database, as a signed-in user of an allowed role.
//
// Properties (api_harness.hpp): no crash or UB, no exception out of a handler, no 5xx, every
// JSON answer and error body valid JSON, every value bound to SQL valid UTF-8.

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/api_harness.hpp"

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  evald::fuzz::init_api_harness();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto calls =
      evald::fuzz::parse_api_script(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!calls.empty()) evald::fuzz::run_api_script(calls);
  return 0;
}
