// Tag retention rules: which rule governs a repository, which tags it lets
// go, and how storage.retention is read.
#include <gtest/gtest.h>

#include "config/config.h"
#include "config_refusal.h"
#include "registry/hosted_rule.h"
#include "registry/retention.h"
#include "registry/tag_glob.h"

namespace wharf::registry {
namespace {

constexpr int64_t kDay = 86400 * 1000;

TEST(RetentionTest, GlobsMatchWholeTags) {
  EXPECT_TRUE(TagGlobMatch("latest", "latest"));
  EXPECT_FALSE(TagGlobMatch("latest", "latest2"));
  EXPECT_TRUE(TagGlobMatch("v*", "v1.2.3"));
  EXPECT_TRUE(TagGlobMatch("v*", "v"));
  EXPECT_FALSE(TagGlobMatch("v*", "main-v1"));
  EXPECT_TRUE(TagGlobMatch("release-*-final", "release-2024-01-final"));
  EXPECT_FALSE(TagGlobMatch("release-*-final", "release-2024-01-final2"));
  EXPECT_TRUE(TagGlobMatch("v?.*", "v1.0"));
  EXPECT_FALSE(TagGlobMatch("v?.*", "v10.0"));
  EXPECT_TRUE(TagGlobMatch("*", ""));
  EXPECT_TRUE(TagGlobMatch("*a*b*", "xxaxxbxx"));
}

TEST(RetentionTest, LongestPrefixGovernsHostedRepositoriesOnly) {
  std::vector<RetentionRuleConfig> rules = {{"", 50, 0, {}}, {"ci", 5, 0, {}}, {"ci/nightly", 1, 0, {}}};
  EXPECT_EQ(HostedRuleFor(rules, "team/app")->keep_last, 50u);
  EXPECT_EQ(HostedRuleFor(rules, "ci/app")->keep_last, 5u);
  EXPECT_EQ(HostedRuleFor(rules, "ci")->keep_last, 5u);
  EXPECT_EQ(HostedRuleFor(rules, "ci/nightly/x")->keep_last, 1u);
  EXPECT_EQ(HostedRuleFor(rules, "cinema/app")->keep_last, 50u);  // not under "ci"
  EXPECT_EQ(HostedRuleFor(rules, "~docker.io/library/alpine"), nullptr);  // the proxy's cache
  EXPECT_EQ(HostedRuleFor<RetentionRuleConfig>({{"ci", 5, 0, {}}}, "team/app"), nullptr);
}

TEST(RetentionTest, ExpiredTagsKeepTheNewestTheYoungAndTheNamed) {
  const int64_t now = 100 * kDay;
  std::vector<TagAge> tags = {{"sha-1", now - 40 * kDay}, {"sha-2", now - 30 * kDay},
                              {"sha-3", now - 20 * kDay}, {"sha-4", now - 2 * kDay},
                              {"latest", now - 2 * kDay}, {"v1.0", now - 90 * kDay}};
  // The two newest by age ("sha-4" and "latest" tie; both are newest).
  EXPECT_EQ(ExpiredTags({"", 2, 0, {}}, tags, now),
            (std::vector<std::string>{"sha-1", "sha-2", "sha-3", "v1.0"}));
  // Pushed within 25 days, or named.
  EXPECT_EQ(ExpiredTags({"", 0, 25, {"v*"}}, tags, now), (std::vector<std::string>{"sha-1", "sha-2"}));
  // Either keeps: the newest 3 or within 35 days.
  EXPECT_EQ(ExpiredTags({"", 3, 35, {}}, tags, now), (std::vector<std::string>{"sha-1", "v1.0"}));
  // Equal ages never depend on the listing order.
  std::vector<TagAge> same = {{"a", now}, {"c", now}, {"b", now}};
  EXPECT_EQ(ExpiredTags({"", 1, 0, {}}, same, now), (std::vector<std::string>{"a", "b"}));
  std::reverse(same.begin(), same.end());
  EXPECT_EQ(ExpiredTags({"", 1, 0, {}}, same, now), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(ExpiredTags({"", 10, 0, {}}, tags, now).empty());
}

TEST(RetentionTest, ConfigIsReadAndChecked) {
  Config c;
  Status st = ApplyJson(R"({"storage": {"retention": [
      {"prefix": "ci/", "keep_last": 10, "keep_tags": ["latest", "v*"]},
      {"keep_days": 30}]}})", "f", &c);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(c.storage.retention.size(), 2u);
  EXPECT_EQ(c.storage.retention[0].prefix, "ci");  // the trailing '/' goes
  EXPECT_EQ(c.storage.retention[0].keep_last, 10u);
  EXPECT_EQ(c.storage.retention[0].keep_tags, (std::vector<std::string>{"latest", "v*"}));
  EXPECT_EQ(c.storage.retention[1].keep_days, 30u);
  EXPECT_NE(Describe(c).find("\"keep_tags\""), std::string::npos);
  for (const auto& [bad, says] : std::vector<std::pair<std::string, std::string>>{
           {R"({"prefix": "ci"})", "set keep_last or keep_days"},
           {R"({"keep_last": -1})", "keep_last': expected a count"},
           {R"({"keep_last": "10"})", "keep_last': expected a count"},
           {R"({"keep_days": 1, "keep_tags": "latest"})", "keep_tags': expected a list of tag globs"},
           {R"({"keep_days": 1, "tags": 3})", "unknown rule field 'tags'"},
           {R"({"keep_days": 1}, {"keep_last": 2})", "two rules for prefix ''"}})
    ExpectConfigRefused(R"({"storage": {"retention": [)" + bad + "]}}", "storage.retention", says);
}

}  // namespace
}  // namespace wharf::registry
