// Registry login, as docker does it before a pull or push.
//
// Pings GET /v2/ without credentials and follows the answer:
//   anything but 401         -> no Authorization header at all (open
//                               registries, static file servers);
//   401 with a Basic challenge -> "Basic base64(user:password)";
//   401 with a Bearer challenge -> fetches a token from the challenge's realm
//     (with Basic credentials when `user` is set, anonymously otherwise) for
//     `scopes`, and returns "Bearer <token>".
// Blocking: runs its own calls on `loop` until done. Not thread-safe; call it
// once before the load starts.
#pragma once

#include <uv.h>

#include <string>
#include <vector>

#include "conn.h"

namespace wharf::bench {

// Runs one call on `c` and the loop until it is answered. `err` as in Conn::Done.
Reply SyncCall(uv_loop_t* loop, Conn* c, Call call, std::string* err);

// Splits "http(s)://host[:port]/path" into a resolved target and the path.
// The target's TLS context is left for the caller to set.
bool ParseUrl(const std::string& url, Target* t, std::string* path);

// On success sets `*authorization` ("" when the registry wants none) and
// returns true; otherwise sets `*err` to a one-line reason.
bool Login(uv_loop_t* loop, const Target& registry, const std::string& user,
           const std::vector<std::string>& scopes, std::string* authorization, std::string* err);

}  // namespace wharf::bench
