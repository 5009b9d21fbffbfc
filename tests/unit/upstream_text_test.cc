// What upstream registries send back: token realms, redirects, challenges.
#include <gtest/gtest.h>

#include "proxy/challenge.h"
#include "proxy/url.h"

namespace wharf::proxy {
namespace {

TEST(UrlTest, ParsesHostsPortsAndPaths) {
  auto u = Url::Parse("https://registry-1.docker.io/v2/");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "registry-1.docker.io");
  EXPECT_EQ(u->port, 443);
  EXPECT_EQ(u->path, "/v2/");
  u = Url::Parse("http://[::1]:5001");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "::1");
  EXPECT_EQ(u->port, 5001);
  EXPECT_EQ(u->HostPort(), "[::1]:5001");
}

// Found by fuzz_challenge: "http://:" had an empty host. Hosts and paths
// from upstreams must not carry anything that splits a request line or a
// Host header.
TEST(UrlTest, RejectsEmptyHostsAndInjection) {
  for (const char* bad : {"http://:", "http://://x", "https://[]:443/", "http://a b/",
                          "http://evil\r\nX-Injected: 1/", "http://h/p q", "http://h/p\r\nX: y",
                          "https://h:0/", "https://h:99999/", "ftp://h/"})
    EXPECT_FALSE(Url::Parse(bad).ok()) << bad;
  auto base = Url::Parse("https://r.example:5000/v2/x");
  ASSERT_TRUE(base.ok());
  auto r = base->Resolve("/blobs/elsewhere?sig=1");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->Origin() + r->path, "https://r.example:5000/blobs/elsewhere?sig=1");
  EXPECT_FALSE(base->Resolve("/a\r\nX: y").ok());
  EXPECT_FALSE(base->Resolve("relative").ok());
}

TEST(ChallengeTest, BearerWithQuotedCommas) {
  Challenge c;
  ASSERT_TRUE(ParseChallenge(
      R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:a/b:pull,push")",
      &c));
  EXPECT_EQ(c.scheme, "bearer");
  EXPECT_EQ(c.params["realm"], "https://auth.docker.io/token");
  EXPECT_EQ(c.params["scope"], "repository:a/b:pull,push");
  EXPECT_FALSE(ParseChallenge("", &c));
}

}  // namespace
}  // namespace wharf::proxy
