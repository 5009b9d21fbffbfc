// Immutable tags: which tags a rule fixes, and how storage.immutable_tags is
// read.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "config/config.h"
#include "config_refusal.h"
#include "registry/immutable_tags.h"

namespace wharf::registry {
namespace {

TEST(ImmutableTagsTest, LongestPrefixDecidesAndTheCacheIsFree) {
  const std::vector<ImmutableTagRule> rules = {{"", {"v*.*.*"}}, {"prod", {"*"}}, {"prod/scratch", {}}};
  EXPECT_TRUE(TagImmutable(rules, "team/app", "v1.2.3"));
  EXPECT_FALSE(TagImmutable(rules, "team/app", "latest"));
  EXPECT_FALSE(TagImmutable(rules, "team/app", "v1.2"));
  EXPECT_TRUE(TagImmutable(rules, "prod/api", "latest"));
  EXPECT_TRUE(TagImmutable(rules, "prod", "anything"));
  // A narrower rule without tags frees its subtree, even of the wider globs.
  EXPECT_FALSE(TagImmutable(rules, "prod/scratch/x", "v1.2.3"));
  EXPECT_TRUE(TagImmutable(rules, "production/api", "v1.0.0"));  // not under "prod"
  EXPECT_FALSE(TagImmutable(rules, "production/api", "latest"));
  EXPECT_FALSE(TagImmutable(rules, "~docker.io/library/alpine", "v1.2.3"));  // the proxy's cache
  EXPECT_FALSE(TagImmutable({}, "team/app", "v1.2.3"));
  EXPECT_FALSE(TagImmutable({{"prod", {"*"}}}, "team/app", "v1"));
}

TEST(ImmutableTagsTest, ConfigIsReadAndChecked) {
  Config c;
  Status st = ApplyJson(R"({"storage": {"immutable_tags": [
      {"prefix": "prod/", "tags": ["*"]}, {"tags": ["v*"]}]}})", "f", &c);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(c.storage.immutable_tags.size(), 2u);
  EXPECT_EQ(c.storage.immutable_tags[0].prefix, "prod");  // the trailing '/' goes
  EXPECT_EQ(c.storage.immutable_tags[1].tags, (std::vector<std::string>{"v*"}));
  const auto described = nlohmann::json::parse(Describe(c))["storage"]["immutable_tags"];
  EXPECT_EQ(described[0]["prefix"], "prod");
  EXPECT_EQ(described[1]["tags"][0], "v*");
  for (const auto& [bad, says] : std::vector<std::pair<std::string, std::string>>{
           {R"([{"tags": "v*"}])", "tags': expected a list of tag globs"},
           {R"([{"tags": [1]}])", "tags': expected a list of tag globs"},
           {R"([{"prefix": 3, "tags": []}])", "prefix': expected a string"},
           {R"([{"keep_last": 3}])", "unknown rule field 'keep_last'"},
           {R"([{"tags": ["v*"]}, {"prefix": "/", "tags": ["*"]}])", "two rules for prefix ''"},
           {R"(["v*"])", "each rule must be an object"},
           {R"({"tags": ["v*"]})", "expected an array of {prefix, tags}"}})
    ExpectConfigRefused(R"({"storage": {"immutable_tags": )" + bad + "}}", "storage.immutable_tags", says);
}

}  // namespace
}  // namespace wharf::registry
