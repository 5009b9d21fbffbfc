// RunBlocking: finish a request after blocking work (fsync, hashing a large
// file, synced metadata writes) that must not run on an event loop.
//
// Defers the exchange, runs `work` on the libuv threadpool, then `done` on
// the exchange's loop, which must fill ex.res; the response is then sent.
// Call it from Handler::Finish, or from Begin when it returns kPause.
#pragma once

#include <functional>

#include "http/handler.h"

namespace wharf::registry {

void RunBlocking(http::Exchange& ex, std::function<void()> work, std::function<void()> done);

}  // namespace wharf::registry
