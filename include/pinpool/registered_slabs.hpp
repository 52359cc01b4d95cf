#pragma once
/// @file registered_slabs.hpp
/// @brief `registered_slabs<Handle>`: the table a registration hook keeps (slab address ->
/// the handle a library returned for it), with the lookup from any address inside a slab. Used
/// by the UCX and NCCL adapters; useful for hooks of one's own (slab_hooks.hpp).

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

namespace pinpool {

/// @brief Thread-safe map from registered slabs to their handles. Header-only.
template <class Handle>
class registered_slabs {
 public:
  /// @brief Records `handle` for the slab [p, p + bytes).
  void add(const void* p, std::size_t bytes, Handle handle) {
    std::lock_guard<std::mutex> lock(mutex_);
    slabs_[address(p)] = entry{bytes, std::move(handle)};
  }
  /// @brief Forgets the slab that starts at `p` and returns its handle (nothing if unknown).
  std::optional<Handle> remove(const void* p) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = slabs_.find(address(p));
    if (it == slabs_.end()) return std::nullopt;
    Handle h = std::move(it->second.handle);
    slabs_.erase(it);
    return h;
  }
  /// @brief The handle of the slab holding all of [p, p + bytes); nothing when none does.
  std::optional<Handle> find(const void* p, std::size_t bytes = 1) const {
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = slabs_.upper_bound(address(p));
    if (it == slabs_.begin()) return std::nullopt;
    --it;
    if (address(p) + bytes > it->first + it->second.bytes) return std::nullopt;
    return it->second.handle;
  }
  /// @brief Removes and returns every handle (for a teardown that outlived its pools).
  std::vector<Handle> take_all() {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<Handle> all;
    for (auto& s : slabs_) all.push_back(std::move(s.second.handle));
    slabs_.clear();
    return all;
  }
  std::size_t size() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return slabs_.size();
  }

 private:
  struct entry {
    std::size_t bytes;
    Handle handle;
  };
  static std::uintptr_t address(const void* p) { return reinterpret_cast<std::uintptr_t>(p); }

  mutable std::mutex mutex_;
  std::map<std::uintptr_t, entry> slabs_;  // by start address
};

}  // namespace pinpool
