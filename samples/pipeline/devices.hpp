#pragma once
// The devices of a run (--devices): checked against the backend, and on the CPU backend
// emulated, so that the multi-device path (a pool per device, streams spread over devices, host
// threads per device) runs and is tested without a GPU.

#include "options.hpp"

#include <pinpool/backend.hpp>

#include <memory>
#include <vector>

namespace pinpool::pipeline {

/// @brief Devices the CPU backend emulates for --devices (0..cpu_emulated_devices - 1).
constexpr int cpu_emulated_devices = 8;

/// @brief How many devices `be` offers the pipeline: its own count, or cpu_emulated_devices for
/// the CPU backend.
int pipeline_device_count(const backend& be) noexcept;

/// @brief The devices of the run: `o.devices`, else {0}.
std::vector<int> devices_of(const options& o);

/// @brief Checks `devices` against `be` (pipeline_device_count) and `streams` (at least one
/// stream per device).
/// @throws usage_error naming the first device `be` does not have, and the devices it has.
void check_devices(const std::vector<int>& devices, int streams, const backend& be);

/// @brief `be` when it has every device of `devices`; for the CPU backend with fewer, the same
/// backend seen as cpu_emulated_devices devices: every call goes to its one device, and a stream
/// remembers the device it was made for (so pools and events check devices as they would on
/// CUDA). Each stream is still its own worker thread.
std::shared_ptr<backend> backend_for_devices(std::shared_ptr<backend> be,
                                             const std::vector<int>& devices);

}  // namespace pinpool::pipeline
