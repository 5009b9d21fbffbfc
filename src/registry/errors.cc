#include "registry/errors.h"

#include "util/log.h"

namespace wharf::registry {
namespace {

struct Entry {
  const char* code;
  int status;
};

constexpr Entry kTable[] = {
    {"BLOB_UNKNOWN", 404},          {"BLOB_UPLOAD_INVALID", 400}, {"BLOB_UPLOAD_UNKNOWN", 404},
    {"DIGEST_INVALID", 400},        {"MANIFEST_BLOB_UNKNOWN", 400}, {"MANIFEST_INVALID", 400},
    {"MANIFEST_UNKNOWN", 404},      {"NAME_INVALID", 400},        {"NAME_UNKNOWN", 404},
    {"SIZE_INVALID", 400},          {"TAG_INVALID", 400},         {"UNSUPPORTED", 405},
    {"PAGINATION_NUMBER_INVALID", 400}, {"BLOB_UPLOAD_INVALID", 416}, {"SIZE_INVALID", 413},
    {"BLOB_UPLOAD_INVALID", 409},   {"STORAGE_FULL", 507},        {"INTERNAL", 500},
    {"UNAUTHORIZED", 401},          {"DENIED", 403},              {"TOOMANYREQUESTS", 429},
    {"UNAVAILABLE", 502},           {"UNSUPPORTED", 405},         {"UNAVAILABLE", 503},
    {"UNAVAILABLE", 503},           {"BAD_REQUEST", 400},
};

}  // namespace

int StatusOf(Err e) { return kTable[static_cast<int>(e)].status; }
const char* CodeOf(Err e) { return kTable[static_cast<int>(e)].code; }

void Fail(http::Response& res, Err e, std::string_view message, std::string_view detail_json) {
  res.Reset();
  res.Error(StatusOf(e), CodeOf(e), message, detail_json);
}

void FailStorage(http::Response& res, const Status& st) {
  if (st.code() == Code::kDenied) {  // a policy's refusal (a quota), its message for the client
    Fail(res, Err::kDenied, st.message());
    return;
  }
  if (st.code() == Code::kNoSpace) {
    WLOG_ERROR("storage full: %s", st.message().c_str());
    Fail(res, Err::kStorageFull, "storage is full");
    return;
  }
  if (st.code() == Code::kUnavailable) {
    WLOG_WARN("storage busy: %s", st.message().c_str());
    Fail(res, Err::kOverloaded, "the server is out of resources; try again shortly");
    res.AddHeader("Retry-After", "1");
    return;
  }
  WLOG_ERROR("storage error: %s", st.ToString().c_str());
  Fail(res, Err::kInternal, "storage error");
}

}  // namespace wharf::registry
