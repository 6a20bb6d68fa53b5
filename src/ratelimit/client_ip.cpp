#include "ratelimit/client_ip.hpp"

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/network_v4.hpp>
#include <boost/asio/ip/network_v6.hpp>
#include <stdexcept>

namespace evald::ratelimit {

namespace ip = boost::asio::ip;

struct TrustedProxies::Impl {
  std::vector<ip::network_v4> v4;
  std::vector<ip::network_v6> v6;
};

TrustedProxies::TrustedProxies(const std::vector<std::string>& cidrs) : impl_(new Impl) {
  for (std::string c : cidrs) {
    boost::system::error_code ec;
    if (c.find('/') == std::string::npos) c += c.find(':') == std::string::npos ? "/32" : "/128";
    if (c.find(':') == std::string::npos) {
      auto n = ip::make_network_v4(c, ec);
      if (ec) throw std::invalid_argument("not a CIDR block: " + c);
      impl_->v4.push_back(n.canonical());
    } else {
      auto n = ip::make_network_v6(c, ec);
      if (ec) throw std::invalid_argument("not a CIDR block: " + c);
      impl_->v6.push_back(n.canonical());
    }
  }
}

TrustedProxies::~TrustedProxies() = default;
TrustedProxies::TrustedProxies(TrustedProxies&&) noexcept = default;

bool TrustedProxies::contains(std::string_view address) const {
  boost::system::error_code ec;
  auto a = ip::make_address(std::string(address), ec);
  if (ec) return false;
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    a = ip::make_address_v4(ip::v4_mapped, a.to_v6());
  }
  if (a.is_v4()) {
    const auto host = ip::network_v4(a.to_v4(), 32);
    for (const auto& n : impl_->v4) {
      if (host.is_subnet_of(n) || host == n) return true;
    }
    return false;
  }
  const auto host = ip::network_v6(a.to_v6(), 128);
  for (const auto& n : impl_->v6) {
    if (host.is_subnet_of(n) || host == n) return true;
  }
  return false;
}

std::string TrustedProxies::client_ip(std::string_view peer, std::string_view forwarded) const {
  if (forwarded.empty() || !contains(peer)) return std::string(peer);
  // Right to left: each hop was added by the proxy before it; stop at the first one that is
  // not ours.
  std::string last_valid(peer);
  std::size_t end = forwarded.size();
  while (true) {
    const auto comma = forwarded.rfind(',', end == 0 ? 0 : end - 1);
    const std::size_t begin = comma == std::string_view::npos || comma >= end ? 0 : comma + 1;
    std::string_view hop = forwarded.substr(begin, end - begin);
    while (!hop.empty() && hop.front() == ' ') hop.remove_prefix(1);
    while (!hop.empty() && hop.back() == ' ') hop.remove_suffix(1);
    boost::system::error_code ec;
    ip::make_address(std::string(hop), ec);
    if (ec) return last_valid;  // garbage in the header: trust nothing further left
    if (!contains(hop)) return std::string(hop);
    last_valid = std::string(hop);
    if (begin == 0) return last_valid;
    end = begin - 1;
  }
}

}  // namespace evald::ratelimit
