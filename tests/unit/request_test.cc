#include "http/request.h"

#include <gtest/gtest.h>

#include "http/response.h"
#include "util/encoding.h"

namespace wharf::http {
namespace {

TEST(RequestTest, RepeatedHeadersAreJoined) {
  Request r;
  r.headers = {{"Accept", "a/b"}, {"Host", "h"}, {"accept", "c/d"}};
  r.header_count = 3;
  EXPECT_EQ(r.Joined("ACCEPT"), "a/b, c/d");
  EXPECT_EQ(*r.Find("host"), "h");
}

// What the webhooks' events read back from a response (registry/events.cc).
TEST(RequestTest, ResponseHeaderFindsWhatWasAdded) {
  Response r;
  r.AddHeader("Content-Type", "application/json");
  r.AddHeader("Docker-Content-Digest", "sha256:ab");
  r.AddHeader("Docker-Content", "x");
  r.AddHeader("Empty", "");
  EXPECT_EQ(r.Header("Docker-Content-Digest"), "sha256:ab");
  EXPECT_EQ(r.Header("Docker-Content"), "x");  // a prefix of another name is its own header
  EXPECT_EQ(r.Header("Content-Type"), "application/json");
  EXPECT_EQ(r.Header("Empty"), "");
  EXPECT_EQ(r.Header("Location"), "");
  EXPECT_EQ(r.Header("Docker"), "");
}

TEST(RequestTest, QueryParamsAreDecoded) {
  Request r;
  r.target = "/x?digest=sha256%3Aabc&n=10&flag&last=a%2Fb";
  r.query = std::string_view(r.target).substr(3);
  bool found = false;
  EXPECT_EQ(r.QueryParam("digest", &found), "sha256:abc");
  EXPECT_TRUE(found);
  EXPECT_EQ(r.QueryParam("n"), "10");
  EXPECT_EQ(r.QueryParam("flag", &found), "");
  EXPECT_TRUE(found);
  EXPECT_EQ(r.QueryParam("last"), "a/b");
  r.QueryParam("missing", &found);
  EXPECT_FALSE(found);
}

TEST(RequestTest, UrlDecodeKeepsBrokenEscapes) {
  EXPECT_EQ(UrlDecode("%zz%4", true), "%zz%4");
  EXPECT_EQ(UrlDecode("a%20b+c", true), "a b c");
  EXPECT_EQ(UrlDecode("a%2Bb+c", false), "a+b+c");  // userinfo: '+' is itself
}

TEST(RequestTest, FormValuesReadAFormBody) {
  const std::string form =
      "grant_type=password&username=a%40b&password=p%26w+x&scope=repository%3Aa%3Apull+repository%3Ab%3Apull"
      "&scope=registry:catalog:*&empty&=nokey";
  EXPECT_EQ(FormValues(form, "username"), std::vector<std::string>{"a@b"});
  EXPECT_EQ(FormValues(form, "password"), std::vector<std::string>{"p&w x"});
  EXPECT_EQ(FormValues(form, "scope"),
            (std::vector<std::string>{"repository:a:pull repository:b:pull", "registry:catalog:*"}));
  EXPECT_EQ(FormValues(form, "empty"), std::vector<std::string>{""});
  EXPECT_EQ(FormValues(form, ""), std::vector<std::string>{"nokey"});
  EXPECT_TRUE(FormValues(form, "client_id").empty());
  EXPECT_TRUE(FormValues("", "a").empty());
}

TEST(ResponseTest, ErrorBodyIsOciJson) {
  Response res;
  res.Error(404, "BLOB_UNKNOWN", "blob \"x\" unknown", R"({"digest":"sha256:1"})");
  EXPECT_EQ(res.status, 404);
  EXPECT_EQ(res.body,
            "{\"errors\":[{\"code\":\"BLOB_UNKNOWN\",\"message\":\"blob \\\"x\\\" unknown\","
            "\"detail\":{\"digest\":\"sha256:1\"}}]}\n");
  EXPECT_NE(res.headers.find("Content-Type: application/json"), std::string::npos);
}

}  // namespace
}  // namespace wharf::http
