#include "proxy/egress.h"

#include <gtest/gtest.h>

#include "util/encoding.h"

namespace wharf::proxy {
namespace {

Url U(const std::string& s) { return *Url::Parse(s); }

// The proxy a request to `target` goes through, as "host:port", or "direct".
std::string Route(const Egress& e, const std::string& target) {
  const EgressProxy* p = e.For(U(target));
  return p ? p->url.HostPort() : "direct";
}

TEST(EgressTest, NoSettingsMeansDirect) {
  auto e = Egress::Make("", "", "");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(Route(*e, "https://registry-1.docker.io/v2/"), "direct");
  EXPECT_EQ(Route(*e, "http://mirror.local:5000/v2/"), "direct");
}

TEST(EgressTest, EachSchemeUsesItsOwnProxy) {
  auto e = Egress::Make("http://plain.corp:3128", "squid.corp:8080", "");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(Route(*e, "https://registry-1.docker.io/v2/"), "squid.corp:8080");
  EXPECT_EQ(Route(*e, "http://mirror.local:5000/v2/"), "plain.corp:3128");
  auto only_https = Egress::Make("", "http://squid.corp", "");
  ASSERT_TRUE(only_https.ok());
  EXPECT_EQ(Route(*only_https, "https://ghcr.io/v2/"), "squid.corp:80");  // http's default port
  EXPECT_EQ(Route(*only_https, "http://mirror.local/v2/"), "direct");
}

TEST(EgressTest, CredentialsBecomeBasicProxyAuthorization) {
  auto e = Egress::Make("", "http://bob:p%40ss+word%3A@proxy:3128/", "");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  const EgressProxy* p = e->For(U("https://ghcr.io/v2/"));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(p->url.HostPort(), "proxy:3128");
  // Percent-escapes decoded; '+' stays itself in userinfo.
  EXPECT_EQ(p->authorization, "Basic " + Base64Encode("bob:p@ss+word:", false));
  auto plain = Egress::Make("", "http://proxy:3128", "");
  EXPECT_EQ(plain->For(U("https://ghcr.io/"))->authorization, "");
}

TEST(EgressTest, UnsupportedProxiesAreErrorsThatHideThePassword) {
  for (const char* bad : {"https://proxy:443", "socks5://proxy:1080", "http://proxy:0",
                          "http://proxy:99999", "http://proxy:3128/path", "http://:3128"}) {
    auto e = Egress::Make("", bad, "");
    EXPECT_FALSE(e.ok()) << bad;
  }
  auto e = Egress::Make("", "https://bob:hunter2@proxy", "");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().message().find("hunter2"), std::string::npos) << e.status().message();
  e = Egress::Make("http://bob:hunter2@proxy/x", "", "");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().message().find("hunter2"), std::string::npos) << e.status().message();
}

TEST(EgressTest, NoProxyHostsAndDomains) {
  auto e = Egress::Make("http://p:1", "http://p:1", " Example.COM, .corp.internal *.svc.local,localhost ");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(Route(*e, "https://example.com/"), "direct");
  EXPECT_EQ(Route(*e, "https://REGISTRY.example.com/"), "direct");
  EXPECT_EQ(Route(*e, "https://notexample.com/"), "p:1");  // a suffix, not a domain
  EXPECT_EQ(Route(*e, "https://corp.internal/"), "direct");
  EXPECT_EQ(Route(*e, "https://a.b.corp.internal/"), "direct");
  EXPECT_EQ(Route(*e, "http://mirror.svc.local:5000/"), "direct");
  EXPECT_EQ(Route(*e, "http://svc.local/"), "direct");
  EXPECT_EQ(Route(*e, "http://localhost:5000/"), "direct");
  EXPECT_EQ(Route(*e, "http://127.0.0.1:5000/"), "p:1");  // nothing exempt implicitly
  EXPECT_EQ(Route(*e, "https://registry-1.docker.io/"), "p:1");
}

TEST(EgressTest, NoProxyAddressesNetworksAndPorts) {
  auto e = Egress::Make("http://p:1", "http://p:1",
                        "127.0.0.1,10.0.0.0/8,[::1],fd00::/8,mirror.local:5000,[2001:db8::1]:443");
  ASSERT_TRUE(e.ok()) << e.status().ToString();
  EXPECT_EQ(Route(*e, "http://127.0.0.1:5001/"), "direct");
  EXPECT_EQ(Route(*e, "http://127.0.0.2/"), "p:1");
  EXPECT_EQ(Route(*e, "https://10.200.3.4/"), "direct");
  EXPECT_EQ(Route(*e, "https://11.0.0.1/"), "p:1");
  EXPECT_EQ(Route(*e, "http://[::1]:5000/"), "direct");
  EXPECT_EQ(Route(*e, "http://[fd12:3456::1]/"), "direct");
  EXPECT_EQ(Route(*e, "http://[fe80::1]/"), "p:1");
  EXPECT_EQ(Route(*e, "http://mirror.local:5000/"), "direct");
  EXPECT_EQ(Route(*e, "http://mirror.local:5001/"), "p:1");
  EXPECT_EQ(Route(*e, "https://[2001:db8::1]/"), "direct");
  EXPECT_EQ(Route(*e, "https://[2001:db8::1]:8443/"), "p:1");
  // Address entries match addresses in URLs; names are not resolved.
  EXPECT_EQ(Route(*e, "https://ten.example/"), "p:1");
}

TEST(EgressTest, StarBypassesEverything) {
  auto e = Egress::Make("http://p:1", "http://p:1", "*");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(Route(*e, "https://registry-1.docker.io/"), "direct");
}

TEST(EgressTest, BadNoProxyEntriesAreErrors) {
  for (const char* bad : {"host:", "host:0", "host:x", "10.0.0.0/33", "10.0.0.0/", "fd00::/129",
                          "[::1", "[::1]x", "a/b", "*.", "bad$host"}) {
    EXPECT_FALSE(Egress::Make("", "", bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace wharf::proxy
