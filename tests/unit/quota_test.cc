// Storage accounting: which quota rule governs a repository, what it counts,
// when an addition is refused, how storage.quotas is read, and what
// `wharf usage` reports.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <mutex>
#include <thread>

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
  QuotaGate gate(rules, *meta_);
  auto check = [&gate](std::string_view repo, const std::string& d, uint64_t size) {
    return gate.Admit(repo, d, size).status();
  };
  Link("team/app", 'a', 600);
  EXPECT_TRUE(check("team/app", D('b'), 400).ok());  // exactly full
  Status st = check("team/web", D('b'), 401);
  EXPECT_EQ(st.code(), Code::kDenied);
  EXPECT_EQ(st.message(), "quota exceeded: the repositories under team hold 600 B of their 1000 B "
                          "(storage.quotas), and this adds 401 B");
  const std::vector<QuotaRule> big = {{"", 50ull << 30}};
  st = QuotaGate(big, *meta_).Admit("x", D('b'), (50ull << 30) + (3 << 19)).status();
  EXPECT_NE(st.message().find("this registry's repositories hold 600 B of their 50.0 GiB (storage.quotas), "
                              "and this adds 50.0 GiB"), std::string::npos) << st.message();
  Link("team/app", 'b', 400);
  // Full: only what team already holds may be added, e.g. a mount of its own layer.
  EXPECT_TRUE(check("team/web", D('a'), 600).ok());
  EXPECT_EQ(check("team/web", D('c'), 1).code(), Code::kDenied);
  EXPECT_EQ(gate.CheckRoom("team/web").code(), Code::kDenied);
  // Outside the rule, and in the proxy's cache, nothing is counted.
  EXPECT_TRUE(check("other/app", D('c'), 1 << 30).ok());
  EXPECT_TRUE(check("~docker.io/team/app", D('c'), 1 << 30).ok());
  EXPECT_TRUE(gate.CheckRoom("other/app").ok());
}

TEST_F(QuotaTest, AdmittedAdditionsHoldTheirRoomUntilWritten) {
  const std::vector<QuotaRule> rules = {{"team", 1000}};
  QuotaGate gate(rules, *meta_);
  Link("team/app", 'a', 400);
  // Eight layers of 200 B pushed at once: three fit (400 + 3 x 200 = 1000).
  std::vector<std::thread> threads;
  std::mutex mu;
  std::vector<QuotaGate::Ticket> admitted;
  int refused = 0;
  for (char c = 'b'; c < 'b' + 8; ++c)
    threads.emplace_back([&, c] {
      auto t = gate.Admit("team/app", D(c), 200);
      std::lock_guard<std::mutex> lock(mu);
      if (t.ok())
        admitted.push_back(std::move(*t));
      else
        refused += t.status().code() == Code::kDenied;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(admitted.size(), 3u);
  EXPECT_EQ(refused, 5);
  admitted.clear();  // as if each had failed: the room is back
  EXPECT_TRUE(gate.CheckRoom("team/app").ok());

  auto b = gate.Admit("team/app", D('b'), 300);
  auto c = gate.Admit("team/app", D('c'), 300);
  ASSERT_TRUE(b.ok() && c.ok());
  EXPECT_EQ(gate.Admit("team/app", D('d'), 1).status().code(), Code::kDenied);
  // A digest admitted already costs nothing more, as one written already.
  auto b2 = gate.Admit("team/web", D('b'), 300);
  ASSERT_TRUE(b2.ok());
  // The first addition of it fails: the second still holds its room.
  *b = QuotaGate::Ticket();
  EXPECT_EQ(gate.Admit("team/app", D('d'), 1).status().code(), Code::kDenied);
  *b2 = QuotaGate::Ticket();
  // Written while its ticket lives, an addition is counted once.
  Link("team/app", 'c', 300);
  EXPECT_TRUE(gate.Admit("team/app", D('e'), 300).ok());  // 400 + 300 + 300
}

TEST_F(QuotaTest, AdditionsWrittenWhileOthersScanAreCountedOnce) {
  // Each admitted addition writes its record and drops its ticket while
  // other checks scan: exactly as many land as fit, none twice counted.
  const std::vector<QuotaRule> rules = {{"team", 1000}};
  QuotaGate gate(rules, *meta_);
  for (int round = 0; round < 60; ++round) {
    const std::string repo = "team/r" + std::to_string(round);
    std::atomic<int> landed{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 16; ++i)
      threads.emplace_back([&, i] {
        char hex[17];
        snprintf(hex, sizeof hex, "%016x", round * 100 + i);
        const std::string d = "sha256:" + std::string(48, 'e') + hex;
        auto t = gate.Admit(repo, d, 100);
        if (!t.ok()) return;
        ASSERT_TRUE(meta_->CommitBlob(repo, d, 100, storage::Origin::kPushed, "").ok());
        ++landed;
      });
    for (auto& t : threads) t.join();
    EXPECT_EQ(landed.load(), 10);
    EXPECT_EQ(*QuotaUsage(rules, rules[0], *meta_), 1000u);
    // Empty the rule for the next round (as a delete and gc would).
    std::vector<std::string> linked;
    ASSERT_TRUE(meta_->ForEachStoredUnder(repo, [&](std::string_view, std::string_view d, uint64_t, bool) {
      linked.emplace_back(d);
    }).ok());
    for (const auto& d : linked) ASSERT_TRUE(meta_->Unlink(repo, d).ok());
    ASSERT_EQ(*QuotaUsage(rules, rules[0], *meta_), 0u);
  }
}

TEST_F(QuotaTest, AnUploadIsCappedWhereItCanNeitherFitNorMatch) {
  const std::vector<QuotaRule> rules = {{"team", 1000}};
  QuotaGate gate(rules, *meta_);
  auto cap = gate.UploadCapFor("other/app");
  ASSERT_TRUE(cap.ok());
  EXPECT_EQ(cap->bytes, UINT64_MAX);
  EXPECT_TRUE(cap->Check(UINT64_MAX).ok());
  Link("team/app", 'a', 300);
  Link("team/app", 'b', 500);
  cap = gate.UploadCapFor("team/web");
  ASSERT_TRUE(cap.ok());
  // 200 B of room, but a copy of the 500 B layer would cost nothing.
  EXPECT_EQ(cap->bytes, 500u);
  EXPECT_TRUE(cap->Check(500).ok());
  Status st = cap->Check(501);
  EXPECT_EQ(st.code(), Code::kDenied);
  EXPECT_EQ(st.message(), "quota exceeded: the repositories under team hold 800 B of their 1000 B "
                          "(storage.quotas), and this upload comes to at least 501 B");
  Link("team/app", 'c', 600);  // over the limit (a quota lowered): only copies of what it holds
  EXPECT_EQ(gate.UploadCapFor("team/web")->bytes, 600u);
  EXPECT_NE(gate.RenderMetrics().find("\nwharf_storage_quota_refusals_total{prefix=\"team\"} 1\n"), std::string::npos)
      << gate.RenderMetrics();
  const std::vector<QuotaRule> none;
  EXPECT_EQ(QuotaGate(none, *meta_).RenderMetrics(), "");
}

TEST_F(QuotaTest, UsageListsRepositoriesLargestFirstAndEachQuota) {
  const std::vector<QuotaRule> rules = {{"team", 1000}};
  Link("team/app", 'a', 300);
  Link("team/web", 'a', 300);
  Link("team/web", 'b', 200);
  Manifest("team/web", 'c', 50);
  Link("teamwork/app", 'd', 700);
  Link("~docker.io/team/app", 'e', 9999);  // the proxy's cache: left out
  auto cached = RunUsage(*meta_, rules, "docker.io/team", /*cached=*/true);
  ASSERT_TRUE(cached.ok());
  ASSERT_EQ(cached->repositories.size(), 1u);
  EXPECT_EQ(cached->repositories[0].name, "docker.io/team/app");
  EXPECT_EQ(cached->repositories[0].bytes, 9999u);
  EXPECT_TRUE(cached->quotas.empty());
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
