#pragma once
/// The client's address: the socket peer, or, when the peer is a trusted proxy, the right-most
/// address of X-Forwarded-For that is not itself a trusted proxy. A client cannot choose its
/// own address by sending the header directly.

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace evald::ratelimit {

class TrustedProxies {
 public:
  /// CIDRs or single addresses, IPv4 or IPv6; throws std::invalid_argument on a bad one.
  explicit TrustedProxies(const std::vector<std::string>& cidrs);
  ~TrustedProxies();
  TrustedProxies(TrustedProxies&&) noexcept;

  bool contains(std::string_view address) const;
  std::string client_ip(std::string_view peer, std::string_view forwarded_for) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace evald::ratelimit
