#include "registry/manifest.h"

#include <gtest/gtest.h>

namespace wharf::registry {
namespace {

const std::string kD1 = "sha256:" + std::string(64, '1');
const std::string kD2 = "sha256:" + std::string(64, '2');
const std::string kD3 = "sha256:" + std::string(64, '3');

std::string Image(const std::string& extra = "") {
  return R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
         R"("config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":")" +
         kD1 + R"(","size":10},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":")" +
         kD2 + R"(","size":20}])" + extra + "}";
}

TEST(ManifestTest, ImageManifestReferences) {
  ParsedManifest m;
  ManifestError e;
  ASSERT_TRUE(ParseManifest(Image(), "", &m, &e)) << e.message;
  EXPECT_EQ(m.media_type, media::kOciManifest);
  EXPECT_FALSE(m.is_index);
  EXPECT_EQ(m.blobs, (std::vector<std::string>{kD1, kD2}));
  EXPECT_EQ(m.artifact_type, "application/vnd.oci.image.config.v1+json");
}

TEST(ManifestTest, IndexChildren) {
  std::string idx = R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[)"
                    R"({"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" + kD1 +
                    R"(","size":5},{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
                    kD2 + R"(","size":6}]})";
  ParsedManifest m;
  ManifestError e;
  ASSERT_TRUE(ParseManifest(idx, media::kOciIndex, &m, &e)) << e.message;
  EXPECT_TRUE(m.is_index);
  EXPECT_EQ(m.children, (std::vector<std::string>{kD1, kD2}));
  EXPECT_TRUE(m.blobs.empty());
}

TEST(ManifestTest, SubjectArtifactTypeAndAnnotations) {
  std::string s = Image(R"(,"artifactType":"application/vnd.x.sig","subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":")" +
                        kD3 + R"(","size":1},"annotations":{"k":"v"})");
  ParsedManifest m;
  ManifestError e;
  ASSERT_TRUE(ParseManifest(s, "", &m, &e)) << e.message;
  EXPECT_EQ(m.subject, kD3);
  EXPECT_EQ(m.artifact_type, "application/vnd.x.sig");
  std::string d = ReferrerDescriptor(m, kD1, 42);
  EXPECT_NE(d.find(R"("artifactType":"application/vnd.x.sig")"), std::string::npos);
  EXPECT_NE(d.find(R"("annotations":{"k":"v"})"), std::string::npos);
  EXPECT_NE(d.find(R"("size":42)"), std::string::npos);
}

TEST(ManifestTest, ForeignLayersAreNotRequired) {
  std::string s = R"({"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json",)"
                  R"("config":{"mediaType":"application/vnd.docker.container.image.v1+json","digest":")" + kD1 +
                  R"(","size":1},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip","digest":")" +
                  kD2 + R"(","size":1,"urls":["https://example.invalid/x"]}]})";
  ParsedManifest m;
  ManifestError e;
  ASSERT_TRUE(ParseManifest(s, "", &m, &e)) << e.message;
  EXPECT_EQ(m.blobs, std::vector<std::string>{kD1});
}

TEST(ManifestTest, Rejections) {
  struct Case {
    std::string body, content_type;
    Err code;
  };
  std::vector<Case> cases = {
      {"", "", Err::kManifestInvalid},
      {"{", "", Err::kManifestInvalid},
      {"[]", "", Err::kManifestInvalid},
      {R"({"schemaVersion":1})", "", Err::kManifestInvalid},
      {R"({"schemaVersion":"2"})", "", Err::kManifestInvalid},
      {Image(), media::kOciIndex, Err::kManifestInvalid},  // header disagrees
      {R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","layers":[]})", "",
       Err::kManifestInvalid},
      {R"({"schemaVersion":2,"mediaType":"application/x-unknown","layers":[]})", "", Err::kManifestInvalid},
      {R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json"})", "", Err::kManifestInvalid},
      {R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"a/b","digest":"sha256:zz","size":1},"layers":[]})",
       "", Err::kDigestInvalid},
      {R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"a/b","digest":")" +
           kD1 + R"(","size":-1},"layers":[]})", "", Err::kManifestInvalid},
      {R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"a/b","digest":")" +
           kD1 + R"(","size":1.5},"layers":[]})", "", Err::kManifestInvalid},
      {R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"bad","digest":")" +
           kD1 + R"(","size":1},"layers":[]})", "", Err::kManifestInvalid},
      {Image(R"(,"annotations":{"k":1})"), "", Err::kManifestInvalid},
      {Image(R"(,"artifactType":"not a type")"), "", Err::kManifestInvalid},
  };
  for (const Case& c : cases) {
    ParsedManifest m;
    ManifestError e;
    EXPECT_FALSE(ParseManifest(c.body, c.content_type, &m, &e)) << c.body;
    EXPECT_EQ(static_cast<int>(e.code), static_cast<int>(c.code)) << c.body << ": " << e.message;
  }
}

TEST(ManifestTest, MediaTypeFromHeaderOrShape) {
  ParsedManifest m;
  ManifestError e;
  std::string no_type = R"({"schemaVersion":2,"config":{"mediaType":"a/b","digest":")" + kD1 +
                        R"(","size":1},"layers":[]})";
  ASSERT_TRUE(ParseManifest(no_type, "application/vnd.docker.distribution.manifest.v2+json", &m, &e));
  EXPECT_EQ(m.media_type, media::kDockerManifest);
  ParsedManifest m2;
  ASSERT_TRUE(ParseManifest(no_type, "", &m2, &e));
  EXPECT_EQ(m2.media_type, media::kOciManifest);
}

TEST(AcceptTest, Negotiation) {
  EXPECT_TRUE(Accepts("", media::kOciIndex));
  EXPECT_TRUE(Accepts("*/*", media::kOciIndex));
  EXPECT_TRUE(Accepts("application/json, application/vnd.oci.image.index.v1+json;q=0.5", media::kOciIndex));
  EXPECT_FALSE(Accepts("application/vnd.docker.distribution.manifest.v2+json", media::kOciIndex));
}

TEST(AcceptTest, DefaultPlatformEntry) {
  auto entry = [](const std::string& mt, const std::string& digest, const std::string& platform) {
    return R"({"mediaType":")" + mt + R"(","digest":")" + digest + R"(","size":1)" +
           (platform.empty() ? "" : R"(,"platform":)" + platform) + "}";
  };
  const std::string arm = R"({"os":"linux","architecture":"arm64"})";
  const std::string amd = R"({"os":"linux","architecture":"amd64"})";
  const std::string index = R"({"schemaVersion":2,"manifests":[)" +
                            entry(media::kDockerManifest, kD1, arm) + "," +
                            entry(media::kOciManifest, kD2, R"({"os":"unknown","architecture":"unknown"})") + "," +
                            entry(media::kOciManifest, kD3, amd) + "]}";
  EXPECT_EQ(DefaultPlatformEntry(index, media::kOciManifest), kD3);
  EXPECT_EQ(DefaultPlatformEntry(index, "*/*"), kD3);
  // The amd64 entry's type is one the client cannot take either.
  EXPECT_EQ(DefaultPlatformEntry(index, media::kDockerManifest), "");
  EXPECT_EQ(DefaultPlatformEntry("[]", media::kOciManifest), "");
  EXPECT_EQ(DefaultPlatformEntry("not json", media::kOciManifest), "");
  // Entries of the wrong shape are passed over, never thrown on.
  const std::string odd = R"({"manifests":[1,{"platform":{"os":1,"architecture":"amd64"}},)" +
                          entry(media::kOciManifest, "sha256:short", amd) + "," +
                          entry(media::kOciIndex, kD1, amd) + "," +
                          entry(media::kOciManifest, kD2, amd) + "]}";
  EXPECT_EQ(DefaultPlatformEntry(odd, "*/*"), kD2);
}

}  // namespace
}  // namespace wharf::registry
