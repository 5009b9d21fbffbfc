// What upstream registries send back: token realms, redirects, challenges.
#include <gtest/gtest.h>

#include "proxy/challenge.h"
#include "proxy/registry_answer.h"
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

TEST(RegistryAnswerTest, DockerHubRateLimitAndOtherBodies) {
  EXPECT_EQ(RegistryErrorMessage(R"({"errors":[{"code":"TOOMANYREQUESTS","message":"You have reached your )"
                                 R"(pull rate limit. You may increase the limit by authenticating."}]})"),
            "TOOMANYREQUESTS: You have reached your pull rate limit. You may increase the limit by authenticating.");
  EXPECT_EQ(RegistryErrorMessage(R"({"errors":[{"code":"UNAVAILABLE"}]})"), "UNAVAILABLE");
  EXPECT_EQ(RegistryErrorMessage(R"({"errors":[{"message":"down for maintenance"},{"code":"X"}]})"),
            "down for maintenance");
  // Not a registry's error body: nothing to quote.
  for (const char* other : {"", "<html><body>429 Too Many Requests</body></html>", "{}", R"({"errors":[]})",
                            R"({"errors":"no"})", R"({"errors":[7]})", R"({"errors":[{"code":5}]})", "{\"errors\":["})
    EXPECT_EQ(RegistryErrorMessage(other), "") << other;
}

TEST(RegistryAnswerTest, MadeSafeForLogsAndCut) {
  EXPECT_EQ(RegistryErrorMessage(R"({"errors":[{"code":"A","message":"line\r\nX-Injected: 1\u0000"}]})"),
            "A: line  X-Injected: 1 ");
  std::string longer = "{\"errors\":[{\"message\":\"" + std::string(10, 'a') + "\u00e9\u00e9\"}]}";
  EXPECT_EQ(RegistryErrorMessage(longer, 12), std::string(10, 'a') + "\xc3\xa9");
  EXPECT_EQ(RegistryErrorMessage(longer, 11), std::string(10, 'a'));  // never half a character
}

TEST(RegistryAnswerTest, RateLimitHeaders) {
  EXPECT_EQ(RateLimitCount("100;w=21600"), 100);
  EXPECT_EQ(RateLimitCount(" 76 ; w=21600"), 76);
  EXPECT_EQ(RateLimitCount("0"), 0);
  for (const char* bad : {"", ";w=21600", "-1;w=1", "7x;w=1", "many", "99999999999999999999999"})
    EXPECT_EQ(RateLimitCount(bad), -1) << bad;
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
