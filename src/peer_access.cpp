// backend::enable_peer_access and peer_access_enabled: the record of which devices' streams may
// use which devices' memory, shared by every backend.
#include <pinpool/backend.hpp>

#include <stdexcept>
#include <string>

namespace pinpool {

bool backend::enable_peer_access(int device, int peer) {
  const int count = device_count();
  auto check = [&](int d, const char* what) {
    if (d < 0 || d >= count || d >= max_peer_devices) {
      throw std::invalid_argument(std::string("pinpool: ") + name() + " backend: " + what + " " +
                                  std::to_string(d) + " is not a device (it has " +
                                  std::to_string(count) + ")");
    }
  };
  check(device, "enable_peer_access: device");
  check(peer, "enable_peer_access: peer");
  if (device == peer) {
    throw std::invalid_argument("pinpool: enable_peer_access: device and peer are both " +
                                std::to_string(device));
  }
  if (peer_access_enabled(device, peer)) return true;
  if (!enable_native_peer_access(device, peer)) return false;
  peers_[static_cast<std::size_t>(device)].fetch_or(std::uint64_t{1} << peer,
                                                    std::memory_order_release);
  return true;
}

bool backend::peer_access_enabled(int device, int peer) const noexcept {
  if (device < 0 || peer < 0 || device >= max_peer_devices || peer >= max_peer_devices) {
    return false;
  }
  const std::uint64_t bits =
      peers_[static_cast<std::size_t>(device)].load(std::memory_order_acquire);
  return (bits >> peer & 1u) != 0;
}

bool backend::enable_native_peer_access(int /*device*/, int /*peer*/) {
  return true;
}

}  // namespace pinpool
