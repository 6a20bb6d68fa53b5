#include "http/route.hpp"

namespace evald::http {

std::string_view to_string(Role r) {
  switch (r) {
    case Role::kAdmin:
      return "admin";
    case Role::kSecretary:
      return "secretary";
    case Role::kEvaluator:
      return "evaluator";
  }
  return "";
}

std::string_view to_string(RateCategory c) {
  switch (c) {
    case RateCategory::kApi:
      return "api";
    case RateCategory::kLogin:
      return "login";
    case RateCategory::kUpload:
      return "upload";
    case RateCategory::kAdmin:
      return "admin";
    case RateCategory::kBulk:
      return "bulk";
    case RateCategory::kExport:
      return "export";
    case RateCategory::kExempt:
      return "exempt";
  }
  return "";
}

}  // namespace evald::http
