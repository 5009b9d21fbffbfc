#include "auth/htpasswd.h"

#include <crypt.h>
#include <openssl/mem.h>

#include <cstring>
#include <fstream>

namespace wharf::auth {

Result<std::shared_ptr<const Htpasswd>> Htpasswd::Load(const std::string& path,
                                                       std::vector<std::string>* rejected) {
  std::ifstream in(path);
  if (!in) return Invalid("auth.htpasswd.path: cannot read '" + path + "'");
  auto h = std::make_shared<Htpasswd>();
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    ++n;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    size_t colon = line.find(':');
    if (colon == std::string::npos || colon == 0) {
      if (rejected) rejected->push_back("line " + std::to_string(n) + ": not user:hash");
      continue;
    }
    std::string user = line.substr(0, colon), hash = line.substr(colon + 1);
    bool bcrypt = (hash.rfind("$2y$", 0) == 0 || hash.rfind("$2b$", 0) == 0 ||
                   hash.rfind("$2a$", 0) == 0) &&
                  crypt_checksalt(hash.c_str()) == CRYPT_SALT_OK;
    if (!bcrypt) {
      if (rejected)
        rejected->push_back("user '" + user +
                            "' has an unsupported hash format (only bcrypt; use htpasswd -B)");
      continue;
    }
    h->users_[user] = hash;
  }
  return std::shared_ptr<const Htpasswd>(std::move(h));
}

const std::string* Htpasswd::Hash(const std::string& user) const {
  auto it = users_.find(user);
  return it == users_.end() ? nullptr : &it->second;
}

bool Htpasswd::Verify(const std::string& user, const std::string& password) const {
  auto it = users_.find(user);
  if (it == users_.end()) return false;
  // struct crypt_data is 32 KiB: keep it off the (small) thread-pool stack.
  auto data = std::make_unique<crypt_data>();
  const char* out = crypt_rn(password.c_str(), it->second.c_str(), data.get(), sizeof *data);
  if (!out) return false;
  const std::string& want = it->second;
  return strlen(out) == want.size() && CRYPTO_memcmp(out, want.data(), want.size()) == 0;
}

}  // namespace wharf::auth
