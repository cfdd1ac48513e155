// The registry of live handles (see capi_common.h).
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

#include "capi_common.h"

namespace ossrt::capi {
namespace {

struct Registry {
  std::shared_mutex mutex;
  std::unordered_map<const void*, const void*> kinds;  // handle -> handle_kind<T>()
};

Registry& registry() noexcept {
  static Registry instance;  // constructed on first use; never fails
  return instance;
}

}  // namespace

void register_handle(const void* handle, const void* kind) {
  Registry& r = registry();
  std::unique_lock lock(r.mutex);
  r.kinds[handle] = kind;
}

bool unregister_handle(const void* handle, const void* kind) noexcept {
  Registry& r = registry();
  std::unique_lock lock(r.mutex);
  auto it = r.kinds.find(handle);
  if (it == r.kinds.end() || it->second != kind) return false;
  r.kinds.erase(it);
  return true;
}

bool is_live_handle(const void* handle, const void* kind) noexcept {
  Registry& r = registry();
  std::shared_lock lock(r.mutex);
  auto it = r.kinds.find(handle);
  return it != r.kinds.end() && it->second == kind;
}

bool with_live_handle(const void* handle, const void* kind, void (*fn)(const void*, void*), void* context) noexcept {
  Registry& r = registry();
  std::shared_lock lock(r.mutex);
  auto it = r.kinds.find(handle);
  if (it == r.kinds.end() || it->second != kind) return false;
  fn(handle, context);
  return true;
}

}  // namespace ossrt::capi
