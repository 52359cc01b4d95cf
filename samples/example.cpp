// A short tour of pinpool: stage frames through a pinned pool into a device pool on two streams,
// release everything stream-ordered, and print the pools' figures.
#include <pinpool/pinpool.hpp>

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc > 1 && (std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h")) {
    std::puts(
        "usage: pinpool-example\n\nStages 200 frames of 1 MiB through a pinned-host pool "
        "into a device pool on two streams\n(CUDA when a device is usable, else the CPU "
        "backend) and prints the pools' statistics as JSON.");
    return 0;
  }
  auto be = pinpool::make_backend();
  pinpool::pool_options pinned_opt;
  pinned_opt.kind = pinpool::memory_kind::pinned_host;
  pinned_opt.name = "pinned";
  pinpool::pool pinned(be, pinned_opt);
  pinpool::pool_options device_opt;
  device_opt.kind = pinpool::memory_kind::device;
  device_opt.name = "device";
  pinpool::pool device(be, device_opt);

  std::vector<pinpool::stream> streams;
  streams.push_back(be->create_stream());
  streams.push_back(be->create_stream());
  const std::size_t frame_bytes = 1 << 20;
  for (int frame = 0; frame < 200; ++frame) {
    pinpool::stream& s = streams[frame % streams.size()];
    pinpool::buffer staging = pinned.acquire(frame_bytes);  // idle: the host fills it
    std::memset(staging.data(), frame & 0xff, frame_bytes);
    pinpool::buffer on_device = device.acquire(frame_bytes, s);  // safe for work on s
    s.memcpy_async(on_device.data(), staging.data(), frame_bytes);
    staging.set_stream(s);  // released after the copy has read it
  }                         // buffers go back stream-ordered: no synchronisation in the loop
  for (auto& s : streams) s.synchronize();

  std::printf("backend: %s\npinned: %s\ndevice: %s\n", be->name(), pinned.stats().to_json().c_str(),
              device.stats().to_json().c_str());
  return 0;
}
