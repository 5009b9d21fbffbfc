// Storage accounting: which quota rule governs a repository, what it counts,
// when an addition is refused, how storage.quotas is read, and what
// `wharf usage` reports.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <memory>

#include "config/config.h"
#include "config_refusal.h"
#include "registry/hosted_rule.h"
#include "registry/quota.h"
#include "registry/usage.h"
#include "storage/meta_store.h"

namespace wharf::registry {
namespace {

using storage::MetaStore;

std::string D(char c) { return "sha256:" + std::string(64, c); }

class QuotaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/wharf-quota-XXXXXX";
    root_ = mkdtemp(tmpl);
    auto m = MetaStore::Open(root_ + "/meta");
    ASSERT_TRUE(m.ok()) << m.status().ToString();
    meta_ = std::move(*m);
  }
  void TearDown() override {
    meta_.reset();
    std::filesystem::remove_all(root_);
  }
  void Link(const std::string& repo, char c, uint64_t size) {
    ASSERT_TRUE(meta_->CommitBlob(repo, D(c), size, storage::Origin::kPushed, "").ok());
  }
  void Manifest(const std::string& repo, char c, uint64_t size) {
    storage::ManifestWrite w;
    w.repo = repo;
    w.digest = D(c);
    w.record = storage::ManifestRecord{"application/vnd.oci.image.manifest.v1+json", size, "", "", 1};
    ASSERT_TRUE(meta_->PutManifest(w).ok());
  }
  uint64_t Used(const std::vector<QuotaRule>& rules, size_t i) { return *QuotaUsage(rules, rules[i], *meta_); }

  std::string root_;
  std::unique_ptr<MetaStore> meta_;
};

TEST_F(QuotaTest, EachRuleCountsWhatItGovernsOnce) {
  const std::vector<QuotaRule> rules = {{"", 10000}, {"team", 1000}, {"team/big", 5000}};
  Link("team/app", 'a', 300);
  Link("team/web", 'a', 300);  // the same layer in two of team's repositories: counted once
  Link("team/web", 'b', 200);
  Manifest("team/web", 'c', 50);
  Link("team/big/x", 'd', 4000);  // team/big's own rule
  Link("teamwork/app", 'e', 700);  // not under "team": the registry-wide rule's
  Link("other", 'a', 300);
  Link("~docker.io/library/alpine", 'f', 9999);  // the proxy's cache: nobody's
  EXPECT_EQ(Used(rules, 1), 550u);
  EXPECT_EQ(Used(rules, 2), 4000u);
  EXPECT_EQ(Used(rules, 0), 1000u);
  EXPECT_EQ(HostedRuleFor(rules, "team/big/x/y"), &rules[2]);
  EXPECT_EQ(HostedRuleFor(rules, "~docker.io/library/alpine"), nullptr);
  EXPECT_EQ(HostedRuleFor<QuotaRule>({}, "team/app"), nullptr);
}

TEST_F(QuotaTest, AnAdditionMustFitUnlessAlreadyCounted) {
  const std::vector<QuotaRule> rules = {{"team", 1000}};
  Link("team/app", 'a', 600);
  EXPECT_TRUE(CheckQuota(rules, *meta_, "team/app", D('b'), 400).ok());  // exactly full
  Status st = CheckQuota(rules, *meta_, "team/web", D('b'), 401);
  EXPECT_EQ(st.code(), Code::kDenied);
  EXPECT_EQ(st.message(), "quota exceeded: the repositories under team hold 600 B of their 1000 B "
                          "(storage.quotas), and this adds 401 B");
  st = CheckQuota({{"", 50ull << 30}}, *meta_, "x", D('b'), (50ull << 30) + (3 << 19));
  EXPECT_NE(st.message().find("this registry's repositories hold 600 B of their 50.0 GiB (storage.quotas), "
                              "and this adds 50.0 GiB"), std::string::npos) << st.message();
  Link("team/app", 'b', 400);
  // Full: only what team already holds may be added, e.g. a mount of its own layer.
  EXPECT_TRUE(CheckQuota(rules, *meta_, "team/web", D('a'), 600).ok());
  EXPECT_EQ(CheckQuota(rules, *meta_, "team/web", D('c'), 1).code(), Code::kDenied);
  // Outside the rule, and in the proxy's cache, nothing is counted.
  EXPECT_TRUE(CheckQuota(rules, *meta_, "other/app", D('c'), 1 << 30).ok());
  EXPECT_TRUE(CheckQuota(rules, *meta_, "~docker.io/team/app", D('c'), 1 << 30).ok());
}

TEST_F(QuotaTest, UsageListsRepositoriesLargestFirstAndEachQuota) {
  const std::vector<QuotaRule> rules = {{"team", 1000}};
  Link("team/app", 'a', 300);
  Link("team/web", 'a', 300);
  Link("team/web", 'b', 200);
  Manifest("team/web", 'c', 50);
  Link("teamwork/app", 'd', 700);
  Link("~docker.io/team/app", 'e', 9999);  // the proxy's cache: left out
  auto rep = RunUsage(*meta_, rules, "");
  ASSERT_TRUE(rep.ok()) << rep.status().ToString();
  ASSERT_EQ(rep->repositories.size(), 3u);
  EXPECT_EQ(rep->repositories[0].name, "teamwork/app");
  EXPECT_EQ(rep->repositories[1].name, "team/web");
  EXPECT_EQ(rep->repositories[1].bytes, 550u);
  EXPECT_EQ(rep->repositories[1].blobs, 2u);
  EXPECT_EQ(rep->repositories[1].manifests, 1u);
  EXPECT_EQ(rep->repositories[2].bytes, 300u);
  EXPECT_EQ(rep->bytes, 1250u);  // the shared layer once
  ASSERT_EQ(rep->quotas.size(), 1u);
  EXPECT_EQ(rep->quotas[0].used_bytes, 550u);
  EXPECT_EQ(rep->quotas[0].max_bytes, 1000u);
  rep = RunUsage(*meta_, rules, "team/");
  ASSERT_TRUE(rep.ok());
  ASSERT_EQ(rep->repositories.size(), 2u);  // not teamwork
  EXPECT_EQ(rep->bytes, 550u);
  EXPECT_NE(rep->ToJson().find(R"("quotas":[{"max_bytes":1000,"prefix":"team","used_bytes":550}])"),
            std::string::npos) << rep->ToJson();
}

TEST(QuotaConfigTest, ConfigIsReadAndChecked) {
  Config c;
  Status st = ApplyJson(R"({"storage": {"quotas": [{"prefix": "team/", "max_bytes": "50GiB"},
      {"max_bytes": 1000}]}})", "f", &c);
  ASSERT_TRUE(st.ok()) << st.message();
  ASSERT_EQ(c.storage.quotas.size(), 2u);
  EXPECT_EQ(c.storage.quotas[0].prefix, "team");
  EXPECT_EQ(c.storage.quotas[0].max_bytes, 50ull << 30);
  EXPECT_EQ(c.storage.quotas[1].max_bytes, 1000u);
  EXPECT_NE(Describe(c).find("\"max_bytes\": 53687091200"), std::string::npos) << Describe(c);
  for (const auto& [bad, says] : std::vector<std::pair<std::string, std::string>>{
           {R"([{"prefix": "team"}])", "rule for 'team': set max_bytes"},
           {R"([{"max_bytes": "lots"}])", "max_bytes': expected a size such as 50GiB"},
           {R"([{"max_bytes": -5}])", "max_bytes': expected a size such as 50GiB"},
           {R"([{"max_bytes": 5, "tags": []}])", "unknown rule field 'tags'"},
           {R"([{"max_bytes": 5}, {"prefix": "", "max_bytes": 6}])", "two rules for prefix ''"}})
    ExpectConfigRefused(R"({"storage": {"quotas": )" + bad + "}}", "storage.quotas", says);
}

}  // namespace
}  // namespace wharf::registry
