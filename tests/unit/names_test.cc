#include "registry/names.h"

#include <gtest/gtest.h>

#include "util/digest.h"

namespace wharf::registry {
namespace {

TEST(NamesTest, ValidNames) {
  for (const char* n : {"a", "library/alpine", "a/b/c/d/e", "my-app", "my--app", "my_app",
                        "my__app", "my.app", "a1.b2-c3_d4", "0"}) {
    EXPECT_TRUE(ValidName(n)) << n;
  }
}

TEST(NamesTest, HostileAndInvalidNames) {
  const std::string nul("a\0b", 3);
  for (std::string n : {std::string(""), std::string(".."), std::string("a/../b"),
                        std::string("../etc"), std::string("%2e%2e"), std::string("a/%2e%2e/b"),
                        nul, std::string("A"), std::string("a//b"), std::string("/a"),
                        std::string("a/"), std::string("-a"), std::string("a-"),
                        std::string("a..b"), std::string("a___b"), std::string("a._b"),
                        std::string("a b"), std::string("a\nb"), std::string("é"),
                        std::string(256, 'a')}) {
    EXPECT_FALSE(ValidName(n)) << n;
  }
  EXPECT_TRUE(ValidName(std::string(255, 'a')));
}

TEST(NamesTest, Tags) {
  for (const char* t : {"latest", "v1.2.3", "_x", "A-b_c.d", "0"}) EXPECT_TRUE(ValidTag(t)) << t;
  for (std::string t : {std::string(""), std::string(".x"), std::string("-x"), std::string("a/b"),
                        std::string("a:b"), std::string(129, 'a'), std::string("a\0", 2)})
    EXPECT_FALSE(ValidTag(t)) << t;
  EXPECT_TRUE(ValidTag(std::string(128, 'a')));
}

TEST(NamesTest, MediaTypes) {
  EXPECT_TRUE(ValidMediaType("application/vnd.oci.image.manifest.v1+json"));
  EXPECT_TRUE(ValidMediaType("text/plain; charset=utf-8"));
  EXPECT_FALSE(ValidMediaType("noslash"));
  EXPECT_FALSE(ValidMediaType("a/b\nc"));
  EXPECT_FALSE(ValidMediaType("/b"));
}

TEST(DigestTest, ParseAndValidate) {
  std::string hex64(64, 'a'), hex128(128, '0');
  auto d = Digest::Parse("sha256:" + hex64);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->str(), "sha256:" + hex64);
  EXPECT_TRUE(Digest::Parse("sha512:" + hex128).ok());
  EXPECT_EQ(Digest::Parse("md5:" + std::string(32, 'a')).status().code(), Code::kUnsupported);
  EXPECT_EQ(Digest::Parse("sha256:" + std::string(63, 'a')).status().code(), Code::kInvalid);
  EXPECT_EQ(Digest::Parse("sha256:" + std::string(64, 'A')).status().code(), Code::kInvalid);
  EXPECT_EQ(Digest::Parse("sha256:../../" + std::string(58, 'a')).status().code(), Code::kInvalid);
  EXPECT_EQ(Digest::Parse("sha256").status().code(), Code::kInvalid);
  EXPECT_EQ(Digest::Parse(":abc").status().code(), Code::kInvalid);
  EXPECT_EQ(Digest::Parse("SHA/256:abc").status().code(), Code::kInvalid);
}

TEST(DigestTest, KnownValues) {
  EXPECT_EQ(DigestOf("").str(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  Hasher h;
  h.Update("hello ");
  h.Update("world");
  EXPECT_EQ(h.Final().str(),
            "sha256:b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9");
  EXPECT_EQ(DigestOf("abc", DigestAlgo::kSha512).hex.substr(0, 16), "ddaf35a193617aba");
}

TEST(DigestTest, UuidShape) {
  std::string u = RandomUuid();
  ASSERT_EQ(u.size(), 36u);
  EXPECT_EQ(u[14], '4');
  EXPECT_NE(u, RandomUuid());
}

}  // namespace
}  // namespace wharf::registry
