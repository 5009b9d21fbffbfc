// UploadSink: the body of an upload request (PATCH, PUT, monolithic POST)
// as it streams into an acquired upload.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "http/handler.h"
#include "registry/quota.h"
#include "registry/services.h"
#include "storage/uploads.h"

namespace wharf::registry {

// Answers a failed append: 413 SIZE_INVALID over the size cap, otherwise as
// FailStorage.
void FailAppend(http::Response& res, const Status& st);

// Streams a request body into an acquired upload. A failed write undoes the
// whole request's data (a full disk must not stay full of a half chunk); the
// upload stays at its last good size. When the request ends without Take()
// handing the upload on (an error, or the client left), it is released for a
// retry, or, if `ephemeral` (a monolithic POST, whose upload the client never
// saw), discarded with its file.
//
// Two things pause the body (see BodySink): the sink keeps the chunk, works
// off the loop, then writes the chunk and reads on. Each pause must be
// followed by a chunk written, or the request fails, so neither loops.
// - A full disk first makes cached blobs give way to the pushed bytes (when
//   the proxy is on): room is evicted for the rest of the announced length
//   (or for kStreamRoom more of a body without one). A disk that eviction
//   cannot help fails the request.
// - An upload under a quota that outgrows `cap` (what the rule allowed when
//   the request began) has the cap taken again, since content may have gone
//   meanwhile; past the new one it is refused, and discarded: it could never
//   complete.
//
// Lives on the exchange's loop (ex.sink), like the exchange it answers.
class UploadSink final : public http::BodySink {
 public:
  // `announced`: the request's Content-Length, 0 if none.
  UploadSink(Services& s, http::Exchange& ex, std::shared_ptr<storage::Upload> u, bool ephemeral,
             uint64_t announced, UploadCap cap);
  ~UploadSink() override;
  Status Write(std::string_view chunk) override;
  const storage::Upload& upload() const { return *u_; }
  // Hands the upload on (e.g. to its commit); the sink forgets it.
  std::shared_ptr<storage::Upload> Take() { return std::move(u_); }

 private:
  // A body without a length evicts room for this much at a time.
  static constexpr uint64_t kStreamRoom = 64 << 20;

  void MakeRoomFor(std::string_view chunk);
  void Recap(std::string_view chunk);
  // Keeps `chunk`, runs `work` off the loop, then on the loop `resumed`
  // (may be null; its error fails the request) and writes the chunk.
  void PauseWith(std::string_view chunk, std::function<void()> work,
                 std::function<Status(UploadSink*)> resumed);
  void WritePending();
  Status Refused(const Status& st);
  void Failed(const Status& st);

  Services& s_;
  http::Exchange& ex_;
  std::shared_ptr<storage::Upload> u_;
  const bool ephemeral_;
  const uint64_t start_size_;
  const uint64_t announced_;
  UploadCap cap_;
  bool may_evict_ = true;
  bool may_recap_ = true;
  std::string pending_;  // the chunk that waits
};

}  // namespace wharf::registry
