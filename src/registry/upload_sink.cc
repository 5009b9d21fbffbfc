#include "registry/upload_sink.h"

#include "registry/blocking.h"
#include "registry/errors.h"

namespace wharf::registry {

void FailAppend(http::Response& res, const Status& st) {
  if (st.code() == Code::kTooLarge)
    Fail(res, Err::kTooLarge, st.message());
  else
    FailStorage(res, st);
}

UploadSink::UploadSink(Services& s, http::Exchange& ex, std::shared_ptr<storage::Upload> u, bool ephemeral,
                       uint64_t announced, UploadCap cap)
    : s_(s), ex_(ex), u_(std::move(u)), ephemeral_(ephemeral), start_size_(u_->size),
      announced_(announced), cap_(std::move(cap)) {}

UploadSink::~UploadSink() {
  if (!u_) return;
  if (ephemeral_)
    (void)s_.uploads->Cancel(u_);
  else
    s_.uploads->Release(u_);
}

Status UploadSink::Write(std::string_view chunk) {
  if (u_->size + chunk.size() > cap_.bytes) {
    if (may_recap_) {
      Recap(chunk);
      return Status();
    }
    return Refused(cap_.Check(u_->size + chunk.size()));
  }
  Status st = s_.uploads->Append(*u_, chunk);
  if (st.ok()) {
    may_evict_ = may_recap_ = true;
  } else if (st.code() == Code::kNoSpace && s_.proxy && may_evict_) {
    MakeRoomFor(chunk);
    return Status();
  } else {
    Failed(st);
  }
  return st;
}

void UploadSink::MakeRoomFor(std::string_view chunk) {
  may_evict_ = false;
  // The rest of a known length, or nothing; a window of a stream, or at
  // least this chunk on a disk too small for the window.
  const uint64_t received = u_->size - start_size_;
  const uint64_t need = announced_ ? announced_ - received : chunk.size() + kStreamRoom;
  const uint64_t least = announced_ ? need : chunk.size();
  Evictor* evictor = &s_.proxy->evictor();
  PauseWith(chunk, [evictor, need, least] { if (!evictor->MakeRoom(need)) evictor->MakeRoom(least); }, nullptr);
}

void UploadSink::Recap(std::string_view chunk) {
  may_recap_ = false;
  auto cap = std::make_shared<Result<UploadCap>>(Status());
  QuotaGate* gate = s_.quotas.get();
  const std::string repo = u_->repo;
  PauseWith(chunk, [gate, repo, cap] { *cap = gate->UploadCapFor(repo); },
            [cap](UploadSink* self) {
              if (cap->ok()) self->cap_ = **cap;
              return cap->status();
            });
}

void UploadSink::PauseWith(std::string_view chunk, std::function<void()> work,
                           std::function<Status(UploadSink*)> resumed) {
  pending_.assign(chunk);
  const void* self = this;
  http::Exchange& ex = ex_;
  // The connection may be closed meanwhile, which destroys this sink; the
  // exchange outlives the work, so go through it.
  RunBlocking(ex, std::move(work), [&ex, self, resumed = std::move(resumed)] {
    if (ex.sink.get() != self) return;
    auto* sink = static_cast<UploadSink*>(ex.sink.get());
    Status st = resumed ? resumed(sink) : Status();
    if (!st.ok()) {
      sink->Failed(st);
      return;
    }
    sink->WritePending();
  });
}

void UploadSink::WritePending() {
  const std::string chunk = std::move(pending_);
  // No second pause for the same reason: it is written, or answered and the
  // connection reads no more.
  (void)Write(chunk);
}

Status UploadSink::Refused(const Status& st) {
  FailStorage(ex_.res, st);
  (void)s_.uploads->Cancel(u_);
  u_.reset();
  return st;
}

void UploadSink::Failed(const Status& st) {
  s_.uploads->Rewind(*u_, start_size_);
  FailAppend(ex_.res, st);
}

}  // namespace wharf::registry
