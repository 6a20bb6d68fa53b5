#include <gtest/gtest.h>

#include "ratelimit/client_ip.hpp"
#include "ratelimit/rules.hpp"

namespace evald::ratelimit {
namespace {

using namespace std::chrono_literals;

TEST(Rules, DefaultsAreTheOriginalDesignsNumbers) {
  const auto rules = default_rules();
  auto check = [](const Rule* r, double limit, std::chrono::milliseconds window) {
    ASSERT_NE(r, nullptr);
    EXPECT_EQ(r->limit, limit) << r->name;
    EXPECT_EQ(r->burst, limit) << r->name;
    EXPECT_EQ(r->window, window) << r->name;
  };
  check(rules.per_ip("login"), 5, 300s);
  EXPECT_EQ(rules.per_ip("login")->penalty, 900s);
  check(rules.per_ip("upload"), 10, 60s);
  check(rules.per_ip("admin"), 20, 60s);
  check(rules.per_ip("api"), 60, 60s);
  check(rules.per_user("secretary"), 1000, 3600s);
  check(rules.per_user("evaluator"), 500, 3600s);
  check(rules.per_user("admin"), 2000, 3600s);
  check(rules.per_endpoint("bulk"), 5, 300s);
  check(rules.per_endpoint("export"), 10, 600s);
  check(rules.global(), 10000, 60s);
  EXPECT_EQ(rules.global()->penalty, 0s);
  EXPECT_EQ(rules.per_endpoint("api"), nullptr);
  EXPECT_EQ(rules.per_ip("bulk")->name, "per_ip:api");  // categories fall back to api per IP
}

TEST(ClientIp, PeerUnlessThePeerIsATrustedProxy) {
  TrustedProxies none({});
  EXPECT_EQ(none.client_ip("203.0.113.9", "127.0.0.1"), "203.0.113.9");  // spoof ignored
  TrustedProxies lb({"10.0.0.0/8"});
  EXPECT_EQ(lb.client_ip("198.51.100.7", "1.2.3.4"), "198.51.100.7");
  EXPECT_EQ(lb.client_ip("10.1.2.3", "203.0.113.9"), "203.0.113.9");
  EXPECT_EQ(lb.client_ip("10.1.2.3", ""), "10.1.2.3");
}

TEST(ClientIp, RightMostUntrustedHopWins) {
  TrustedProxies proxies({"10.0.0.0/8", "192.168.1.1"});
  // The client forged the left-most entry; the proxies appended the real one.
  EXPECT_EQ(proxies.client_ip("10.0.0.2", "127.0.0.1, 203.0.113.9, 192.168.1.1"), "203.0.113.9");
  EXPECT_EQ(proxies.client_ip("10.0.0.2", " 203.0.113.9 ,10.0.0.5"), "203.0.113.9");
  // Every hop ours: the left-most.
  EXPECT_EQ(proxies.client_ip("10.0.0.2", "10.0.0.9, 10.0.0.5"), "10.0.0.9");
  // Garbage stops the walk at the last valid hop.
  EXPECT_EQ(proxies.client_ip("10.0.0.2", "203.0.113.9, not-an-ip"), "10.0.0.2");
}

TEST(ClientIp, Ipv6AndMappedAddresses) {
  TrustedProxies proxies({"fd00::/8", "127.0.0.1"});
  EXPECT_EQ(proxies.client_ip("fd00::1", "2001:db8::5"), "2001:db8::5");
  EXPECT_TRUE(proxies.contains("::ffff:127.0.0.1"));
  EXPECT_FALSE(proxies.contains("2001:db8::5"));
  EXPECT_THROW(TrustedProxies({"10.0.0.0/40"}), std::invalid_argument);
}

}  // namespace
}  // namespace evald::ratelimit
