#include "http/router.h"

#include <gtest/gtest.h>

namespace wharf::http {
namespace {

enum { kBase = 1, kTags, kManifest, kBlob, kUploadStart, kUpload, kCatalog };

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(r.Add("/v2/", kGet | kHead, kBase));
    ASSERT_TRUE(r.Add("/v2/_catalog", kGet, kCatalog));
    ASSERT_TRUE(r.Add("/v2/<name...>/tags/list", kGet, kTags));
    ASSERT_TRUE(r.Add("/v2/<name...>/manifests/<ref>", kGet | kHead | kPut | kDelete, kManifest));
    ASSERT_TRUE(r.Add("/v2/<name...>/blobs/uploads/", kPost, kUploadStart));
    ASSERT_TRUE(r.Add("/v2/<name...>/blobs/uploads/<id>", kGet | kPatch | kPut | kDelete, kUpload));
    ASSERT_TRUE(r.Add("/v2/<name...>/blobs/<digest>", kGet | kHead | kDelete, kBlob));
  }
  Router r;
};

TEST_F(RouterTest, MultiComponentNames) {
  Router::Match m;
  ASSERT_EQ(r.Find("GET", "/v2/a/b/c/manifests/latest", &m), Router::Outcome::kFound);
  EXPECT_EQ(m.route, kManifest);
  EXPECT_EQ(m.params[0], "a/b/c");
  EXPECT_EQ(m.params[1], "latest");
}

TEST_F(RouterTest, NamesThatLookLikeKeywordsMatchFromTheRight) {
  Router::Match m;
  ASSERT_EQ(r.Find("GET", "/v2/manifests/manifests/x", &m), Router::Outcome::kFound);
  EXPECT_EQ(m.params[0], "manifests");
  EXPECT_EQ(m.params[1], "x");
  ASSERT_EQ(r.Find("GET", "/v2/a/blobs/b/blobs/sha256:00", &m), Router::Outcome::kFound);
  EXPECT_EQ(m.route, kBlob);
  EXPECT_EQ(m.params[0], "a/blobs/b");
}

TEST_F(RouterTest, UploadsAndBlobsAreDistinct) {
  Router::Match m;
  ASSERT_EQ(r.Find("POST", "/v2/lib/x/blobs/uploads/", &m), Router::Outcome::kFound);
  EXPECT_EQ(m.route, kUploadStart);
  EXPECT_EQ(m.params[0], "lib/x");
  ASSERT_EQ(r.Find("PATCH", "/v2/lib/x/blobs/uploads/abc-123", &m), Router::Outcome::kFound);
  EXPECT_EQ(m.route, kUpload);
  EXPECT_EQ(m.params[1], "abc-123");
  ASSERT_EQ(r.Find("GET", "/v2/lib/x/blobs/sha256:ab", &m), Router::Outcome::kFound);
  EXPECT_EQ(m.route, kBlob);
}

TEST_F(RouterTest, MethodNotAllowedReportsAllowed) {
  Router::Match m;
  ASSERT_EQ(r.Find("POST", "/v2/a/manifests/x", &m), Router::Outcome::kMethodNotAllowed);
  EXPECT_EQ(m.allowed, uint32_t{kGet | kHead | kPut | kDelete});
  ASSERT_EQ(r.Find("DELETE", "/v2/", &m), Router::Outcome::kMethodNotAllowed);
}

TEST_F(RouterTest, NotFound) {
  Router::Match m;
  EXPECT_EQ(r.Find("GET", "/v2", &m), Router::Outcome::kNotFound);
  EXPECT_EQ(r.Find("GET", "/v2/a/manifests/", &m), Router::Outcome::kNotFound);
  EXPECT_EQ(r.Find("GET", "/v2//manifests/x", &m), Router::Outcome::kNotFound);
  EXPECT_EQ(r.Find("GET", "/v2/a//b/manifests/x", &m), Router::Outcome::kNotFound);
  EXPECT_EQ(r.Find("GET", "/other", &m), Router::Outcome::kNotFound);
  EXPECT_EQ(r.Find("GET", "", &m), Router::Outcome::kNotFound);
  EXPECT_EQ(r.Find("GET", "v2/", &m), Router::Outcome::kNotFound);
  EXPECT_EQ(r.Find("BREW", "/v2/", &m), Router::Outcome::kMethodNotAllowed);
}

TEST_F(RouterTest, CatalogIsNotARepository) {
  Router::Match m;
  ASSERT_EQ(r.Find("GET", "/v2/_catalog", &m), Router::Outcome::kFound);
  EXPECT_EQ(m.route, kCatalog);
  ASSERT_EQ(r.Find("GET", "/v2/a/tags/list", &m), Router::Outcome::kFound);
  EXPECT_EQ(m.route, kTags);
}

TEST(RouterPatternTest, RejectsTwoGreedyParams) {
  Router r;
  EXPECT_FALSE(r.Add("/<a...>/x/<b...>", kGet, 1));
  EXPECT_FALSE(r.Add("/<a>/<b>/<c>/<d>", kGet, 1));
  EXPECT_FALSE(r.Add("no-slash", kGet, 1));
}

}  // namespace
}  // namespace wharf::http
