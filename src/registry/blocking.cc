#include "registry/blocking.h"

#include <string>

#include "util/log.h"

namespace wharf::registry {
namespace {

struct Job {
  uv_work_t req;
  std::function<void()> work;
  std::function<void()> done;
  http::Exchange* ex;
  std::string id;  // the request's, for the log lines of work on the pool
};

}  // namespace

void RunBlocking(http::Exchange& ex, std::function<void()> work, std::function<void()> done) {
  auto* job = new Job{uv_work_t{}, std::move(work), std::move(done), &ex, std::string(ex.req.id())};
  job->req.data = job;
  ex.Defer();
  uv_queue_work(
      ex.loop, &job->req,
      [](uv_work_t* r) {
        auto* j = static_cast<Job*>(r->data);
        log::RequestScope scope(j->id);
        j->work();
      },
      [](uv_work_t* r, int) {
        auto* j = static_cast<Job*>(r->data);
        {
          log::RequestScope scope(j->id);
          j->done();
        }
        http::Exchange* e = j->ex;
        delete j;
        e->Resume();
      });
}

}  // namespace wharf::registry
