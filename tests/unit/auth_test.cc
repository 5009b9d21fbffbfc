#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "auth/htpasswd.h"
#include "auth/policy.h"
#include "auth/token.h"
#include "registry/token_key.h"
#include "util/encoding.h"

namespace wharf::auth {
namespace {

std::string TempFile(const std::string& content) {
  char path[] = "/tmp/wharf-htpasswd-XXXXXX";
  int fd = mkstemp(path);
  ssize_t n = write(fd, content.data(), content.size());
  (void)n;
  close(fd);
  return path;
}

TEST(HtpasswdTest, VerifiesBcryptAndRejectsOtherFormats) {
  // "secret" hashed by htpasswd -B (cost 5), plus formats Wharf refuses.
  std::string path = TempFile(
      "alice:$2y$05$g3iMz80cH4a8p1p33CVFpuoUCeEtU8KLyuzz.3vtS2TZwPUw.w1LO\n"
      "bob:$apr1$YzA8lf.g$AOeRe6wRy92vgq19GOpiZ.\n"
      "carol:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n"
      "dave:plaintext\n"
      "# comment\n"
      "broken-line\n");
  std::vector<std::string> rejected;
  auto h = Htpasswd::Load(path, &rejected);
  unlink(path.c_str());
  ASSERT_TRUE(h.ok());
  EXPECT_EQ((*h)->size(), 1u);
  EXPECT_EQ(rejected.size(), 4u);
  EXPECT_NE(rejected[0].find("'bob'"), std::string::npos);
  EXPECT_TRUE((*h)->Verify("alice", "secret1"));
  EXPECT_FALSE((*h)->Verify("alice", "secret"));
  EXPECT_FALSE((*h)->Verify("alice", ""));
  EXPECT_FALSE((*h)->Verify("bob", "md5pass"));
  EXPECT_FALSE((*h)->Verify("nobody", "secret1"));
}

TEST(HtpasswdTest, MissingFile) {
  EXPECT_FALSE(Htpasswd::Load("/nonexistent/htpasswd", nullptr).ok());
}

TEST(TokenTest, SignVerifyRoundTrip) {
  TokenSigner s(std::string(32, 'k'));
  Claims c;
  c.subject = "alice";
  c.expires = 2000;
  c.access.push_back(Grant{"repository", "team/app", {"pull", "push"}});
  std::string t = s.Sign(c);
  auto v = s.Verify(t, 1000);
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  EXPECT_EQ(v->subject, "alice");
  EXPECT_TRUE(v->Allows("repository", "team/app", "push"));
  EXPECT_FALSE(v->Allows("repository", "team/other", "pull"));
  EXPECT_FALSE(s.Verify(t, 2000).ok());  // expired
  std::string tampered = t;
  tampered[3] = tampered[3] == 'A' ? 'B' : 'A';
  EXPECT_FALSE(s.Verify(tampered, 1000).ok());
  TokenSigner other(std::string(32, 'o'));
  EXPECT_FALSE(other.Verify(t, 1000).ok());  // another key
  EXPECT_FALSE(s.Verify("nodot", 1000).ok());
}

TEST(TokenTest, RefreshTokensCarryTheirKindAndBinding) {
  TokenSigner s(std::string(32, 'k'));
  Claims c;
  c.subject = "alice";
  c.expires = 2000;
  c.refresh = true;
  c.binding = "abc";
  auto v = s.Verify(s.Sign(c), 1000);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->refresh);
  EXPECT_EQ(v->binding, "abc");
  EXPECT_TRUE(v->access.empty());
  c.refresh = false;
  auto a = s.Verify(s.Sign(c), 1000);
  ASSERT_TRUE(a.ok());
  EXPECT_FALSE(a->refresh);
}

TEST(TokenKeyTest, MadeOnceThenReadBack) {
  char dir[] = "/tmp/wharf-key-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/token.key";
  auto made = registry::LoadOrCreateTokenKey(path);
  ASSERT_TRUE(made.ok()) << made.status().ToString();
  EXPECT_EQ(made->size(), 64u);
  auto again = registry::LoadOrCreateTokenKey(path);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *made);
  std::ofstream(path) << "short\n";
  auto bad = registry::LoadOrCreateTokenKey(path);
  EXPECT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("at least 32"), std::string::npos);
  std::ofstream(path) << std::string(40, 'x') << "  \n";
  auto own = registry::LoadOrCreateTokenKey(path);
  ASSERT_TRUE(own.ok());
  EXPECT_EQ(*own, std::string(40, 'x'));  // trailing whitespace is not key
  unlink(path.c_str());
  rmdir(dir);
  EXPECT_FALSE(registry::LoadOrCreateTokenKey("/nonexistent-dir/token.key").ok());
}

TEST(TokenTest, Scopes) {
  Grant g;
  ASSERT_TRUE(ParseScope("repository:team/app:pull,push", &g));
  EXPECT_EQ(g.type, "repository");
  EXPECT_EQ(g.name, "team/app");
  EXPECT_EQ(g.actions, (std::set<std::string>{"pull", "push"}));
  ASSERT_TRUE(ParseScope("registry:catalog:*", &g));
  EXPECT_FALSE(ParseScope("repository:x", &g));
  EXPECT_FALSE(ParseScope("repository:x:", &g));
}

TEST(TokenTest, Base64) {
  std::string out;
  EXPECT_EQ(Base64Encode("user_1:password_1", false), "dXNlcl8xOnBhc3N3b3JkXzE=");
  ASSERT_TRUE(Base64Decode("dXNlcl8xOnBhc3N3b3JkXzE=", false, &out));
  EXPECT_EQ(out, "user_1:password_1");
  EXPECT_EQ(Base64Encode("\xfb\xff", true), "-_8");
  ASSERT_TRUE(Base64Decode("-_8", true, &out));
  EXPECT_EQ(out, "\xfb\xff");
  EXPECT_FALSE(Base64Decode("abc", false, &out));
}

TEST(PolicyTest, LongestPrefixWins) {
  Policy p(false, Access::kWrite,
           {{"reader", "", Access::kRead},
            {"reader", "sandbox/", Access::kWrite},
            {"*", "secret", Access::kNone},
            {"boss", "secret", Access::kWrite}});
  EXPECT_EQ(p.For("reader", "team/app"), Access::kRead);
  EXPECT_EQ(p.For("reader", "sandbox/x"), Access::kWrite);
  EXPECT_EQ(p.For("reader", "sandbox"), Access::kWrite);
  EXPECT_EQ(p.For("reader", "sandboxed"), Access::kRead);
  EXPECT_EQ(p.For("someone", "team/app"), Access::kWrite);  // default
  EXPECT_EQ(p.For("someone", "secret/x"), Access::kNone);
  EXPECT_EQ(p.For("boss", "secret/x"), Access::kWrite);    // named user beats "*"
  EXPECT_EQ(p.For("", "team/app"), Access::kNone);          // anonymous
  Policy anon(true, Access::kRead, {});
  EXPECT_EQ(anon.For("", "x"), Access::kRead);
}

}  // namespace
}  // namespace wharf::auth
