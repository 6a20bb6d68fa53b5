#include "http/message.hpp"

#include <algorithm>

namespace evald::http {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto x = static_cast<unsigned char>(a[i]);
    auto y = static_cast<unsigned char>(b[i]);
    if (x >= 'A' && x <= 'Z') x += 32;
    if (y >= 'A' && y <= 'Z') y += 32;
    if (x != y) return false;
  }
  return true;
}

std::optional<std::string_view> Headers::get(std::string_view name) const {
  for (std::size_t i = 0; i < spans_.size(); ++i) {
    const auto [k, v] = field(i);
    if (iequals(k, name)) return v;
  }
  return std::nullopt;
}

void Headers::set(std::string_view name, std::string_view value) {
  erase(name);
  add(name, value);
}

void Headers::add(std::string_view name, std::string_view value) {
  // A name or value read from these same headers would move when the buffer grows: copied.
  const auto inside = [&](std::string_view v) {
    return !v.empty() && v.data() >= text_.data() && v.data() < text_.data() + text_.size();
  };
  if (inside(name) || inside(value)) {
    add(std::string(name), std::string(value));
    return;
  }
  // A response's usual fields at once, unless reserve() said how much.
  if (text_.empty() && text_.capacity() < 64) text_.reserve(512);
  spans_.push_back({static_cast<std::uint32_t>(text_.size()),
                    static_cast<std::uint32_t>(name.size()),
                    static_cast<std::uint32_t>(value.size())});
  text_.append(name).append(value);
}

void Headers::erase(std::string_view name) {
  // The text stays (a few bytes until the message goes); the fields go.
  spans_.erase(std::remove_if(spans_.begin(), spans_.end(),
                              [&](const Span& s) {
                                return iequals(std::string_view(text_.data() + s.at, s.name_size),
                                               name);
                              }),
               spans_.end());
}

Response Response::json(unsigned status, std::string body) {
  Response r;
  r.status = status;
  r.headers.set("Content-Type", "application/json");
  r.body = std::move(body);
  return r;
}

Response Response::from_error(ApiError error) {
  Response r;
  r.status = error.status();
  r.headers.set("Content-Type", "application/json");
  r.error = std::move(error);
  return r;
}

}  // namespace evald::http
