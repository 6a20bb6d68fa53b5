#pragma once
/// Request and Response as plain value types: no Beast in these headers, so that handlers and
/// middleware compile quickly. The session converts to and from the wire.

#include <boost/container/small_vector.hpp>
#include <cstdint>
#include <iterator>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/error.hpp"

namespace evald {
class FileBody;
}

namespace evald::http {

/// Case-insensitive ASCII comparison of header names.
bool iequals(std::string_view a, std::string_view b);

/// A message's header fields, in order. Their text lives in one buffer (a field costs no
/// allocation of its own); names and values read back as views, valid until the next change.
class Headers {
 public:
  using Field = std::pair<std::string_view, std::string_view>;

  /// The fields in order, as name and value views.
  class Fields {
   public:
    class iterator {
     public:
      using iterator_category = std::forward_iterator_tag;
      using value_type = Field;
      using difference_type = std::ptrdiff_t;
      using pointer = void;
      using reference = Field;
      iterator() = default;
      Field operator*() const { return headers_->field(i_); }
      iterator& operator++() {
        ++i_;
        return *this;
      }
      iterator operator++(int) {
        auto old = *this;
        ++i_;
        return old;
      }
      bool operator==(const iterator&) const = default;

     private:
      friend class Fields;
      iterator(const Headers* h, std::size_t i) : headers_(h), i_(i) {}
      const Headers* headers_ = nullptr;
      std::size_t i_ = 0;
    };
    iterator begin() const { return {headers_, 0}; }
    iterator end() const { return {headers_, headers_->spans_.size()}; }
    std::size_t size() const { return headers_->spans_.size(); }
    bool empty() const { return headers_->spans_.empty(); }

   private:
    friend class Headers;
    explicit Fields(const Headers* h) : headers_(h) {}
    const Headers* headers_;
  };

  /// The first value of `name`, if present.
  std::optional<std::string_view> get(std::string_view name) const;
  bool has(std::string_view name) const { return get(name).has_value(); }
  /// Replaces every value of `name`.
  void set(std::string_view name, std::string_view value);
  /// Adds a value, keeping earlier ones (Vary, Set-Cookie).
  void add(std::string_view name, std::string_view value);
  void erase(std::string_view name);

  Fields fields() const { return Fields(this); }
  /// Room for `fields` fields of `bytes` characters in all, names and values.
  void reserve(std::size_t fields, std::size_t bytes = 0) {
    spans_.reserve(fields);
    text_.reserve(bytes);
  }

 private:
  struct Span {
    std::uint32_t at = 0;  ///< the name, then the value right after it
    std::uint32_t name_size = 0;
    std::uint32_t value_size = 0;
  };
  Field field(std::size_t i) const {
    const Span& s = spans_[i];
    return {std::string_view(text_.data() + s.at, s.name_size),
            std::string_view(text_.data() + s.at + s.name_size, s.value_size)};
  }
  std::string text_;
  boost::container::small_vector<Span, 16> spans_;
};

struct Request {
  std::string method;  ///< upper case, as sent ("GET")
  std::string target;  ///< raw request target ("/a/b?x=1")
  std::string path;    ///< target before '?', percent-encoding kept
  std::string query;   ///< after '?', without it
  unsigned version = 11;
  bool keep_alive = true;
  Headers headers;
  std::string body;
};

struct Response {
  unsigned status = 200;
  Headers headers;
  std::string body;
  /// When set, the body is this file instead of `body` (which stays empty): the session sends
  /// it in chunks read off the event loop, with its size as Content-Length.
  std::shared_ptr<const FileBody> file;
  /// Set when the response is an error: rendered once into `body` by the request-id layer,
  /// which knows the request id. Middleware reads it to count and log by code.
  std::optional<ApiError> error;

  static Response json(unsigned status, std::string body);
  static Response from_error(ApiError error);
};

}  // namespace evald::http
