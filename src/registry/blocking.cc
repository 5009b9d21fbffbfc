#include "registry/blocking.h"

namespace wharf::registry {
namespace {

struct Job {
  uv_work_t req;
  std::function<void()> work;
  std::function<void()> done;
  http::Exchange* ex;
};

}  // namespace

void RunBlocking(http::Exchange& ex, std::function<void()> work, std::function<void()> done) {
  auto* job = new Job{uv_work_t{}, std::move(work), std::move(done), &ex};
  job->req.data = job;
  ex.Defer();
  uv_queue_work(
      ex.loop, &job->req, [](uv_work_t* r) { static_cast<Job*>(r->data)->work(); },
      [](uv_work_t* r, int) {
        auto* j = static_cast<Job*>(r->data);
        j->done();
        http::Exchange* e = j->ex;
        delete j;
        e->Resume();
      });
}

}  // namespace wharf::registry
