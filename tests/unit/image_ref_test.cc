// How `wharf warm` reads an image name and picks an index's entries.
#include <gtest/gtest.h>

#include "registry/image_ref.h"
#include "registry/platform.h"

namespace wharf::registry {
namespace {

std::string Read(const std::string& s, const std::string& def = "docker.io") {
  auto r = ParseImageRef(s, def);
  return r.ok() ? r->registry + " | " + r->repo + " | " + r->reference : "error: " + r.status().message();
}

const std::string kD1 = "sha256:" + std::string(64, '1');
const std::string kD2 = "sha256:" + std::string(64, '2');

TEST(ImageRefTest, ReadsNamesAsDockerDoes) {
  EXPECT_EQ(Read("alpine"), "docker.io | library/alpine | latest");
  EXPECT_EQ(Read("alpine:3.19"), "docker.io | library/alpine | 3.19");
  EXPECT_EQ(Read("bitnami/redis:7"), "docker.io | bitnami/redis | 7");
  EXPECT_EQ(Read("docker.io/alpine"), "docker.io | library/alpine | latest");
  EXPECT_EQ(Read("index.docker.io/library/alpine:3"), "docker.io | library/alpine | 3");
  EXPECT_EQ(Read("registry.hub.docker.com/alpine"), "docker.io | library/alpine | latest");
  EXPECT_EQ(Read("ghcr.io/org/app:1.2"), "ghcr.io | org/app | 1.2");
  EXPECT_EQ(Read("registry.local:5000/team/app"), "registry.local:5000 | team/app | latest");
  EXPECT_EQ(Read("localhost/app"), "localhost | app | latest");
  EXPECT_EQ(Read("app@" + kD1), "docker.io | library/app | " + kD1);
  EXPECT_EQ(Read("app:1@" + kD1), "docker.io | library/app | " + kD1);  // the digest decides
  EXPECT_EQ(Read("app", "quay.io"), "quay.io | app | latest");  // another default registry: no library/
  EXPECT_EQ(ParseImageRef("ghcr.io/org/app@" + kD2, "docker.io")->ToString(), "ghcr.io/org/app@" + kD2);
  EXPECT_EQ(ParseImageRef("alpine", "docker.io")->ToString(), "docker.io/library/alpine:latest");
}

TEST(ImageRefTest, RefusesWhatTheSpecDoesNotAllow) {
  EXPECT_EQ(Read("Alpine"), "error: Alpine: invalid repository name 'library/Alpine'");
  EXPECT_EQ(Read("alpine:-bad"), "error: alpine:-bad: invalid tag '-bad'");
  EXPECT_NE(Read("alpine@sha256:abc").find("error: alpine@sha256:abc: "), std::string::npos);
  EXPECT_NE(Read("").find("error"), std::string::npos);
  EXPECT_NE(Read("ghcr.io/").find("error"), std::string::npos);
  EXPECT_NE(Read("a//b").find("error"), std::string::npos);
}

TEST(PlatformTest, ParsesAndPicksEntries) {
  auto p = ParsePlatform("linux/arm/v7");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->os + "|" + p->architecture + "|" + p->variant, "linux|arm|v7");
  EXPECT_FALSE(ParsePlatform("linux").ok());
  EXPECT_FALSE(ParsePlatform("linux/").ok());
  EXPECT_FALSE(ParsePlatform("linux/arm/").ok());
  EXPECT_FALSE(ParsePlatform("Linux/AMD64").ok());
  EXPECT_FALSE(HostPlatform().architecture.empty());

  const std::string index = R"({"schemaVersion":2,"manifests":[
    {"digest":")" + kD1 + R"(","platform":{"os":"linux","architecture":"amd64"}},
    {"digest":"sha256:bad","platform":{"os":"linux","architecture":"amd64"}},
    {"digest":")" + kD2 + R"(","platform":{"os":"linux","architecture":"arm64","variant":"v8"}},
    {"digest":")" + kD1 + R"(","platform":{"os":"linux","architecture":"amd64"}},
    {"digest":")" + kD2 + R"("}]})";
  const Platform amd64{"linux", "amd64", ""}, arm64{"linux", "arm64", ""}, arm64v7{"linux", "arm64", "v7"};
  EXPECT_EQ(IndexEntriesFor(index, {amd64}, false), std::vector<std::string>{kD1});
  EXPECT_EQ(IndexEntriesFor(index, {arm64}, false), std::vector<std::string>{kD2});  // any variant
  EXPECT_TRUE(IndexEntriesFor(index, {arm64v7}, false).empty());
  EXPECT_EQ(IndexEntriesFor(index, {arm64, amd64}, false), (std::vector<std::string>{kD1, kD2}));
  EXPECT_EQ(IndexEntriesFor(index, {}, true), (std::vector<std::string>{kD1, kD2}));
  EXPECT_TRUE(IndexEntriesFor("not json", {amd64}, true).empty());
  EXPECT_TRUE(IndexEntriesFor(R"({"manifests":{}})", {amd64}, true).empty());
}

}  // namespace
}  // namespace wharf::registry
