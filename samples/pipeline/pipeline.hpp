#pragma once
// The orchestration of pinpool-pipeline: N streams in flight, every buffer from a pool, every
// release stream-ordered.

#include "frame_plan.hpp"
#include "options.hpp"
#include "run_report.hpp"

#include <pinpool/backend.hpp>

#include <functional>
#include <memory>
#include <stdexcept>
#include <vector>

namespace pinpool::pipeline {

/// @brief Called after each frame is written or failed: (frames done, frames planned).
using progress_fn = std::function<void(std::size_t, std::size_t)>;

/// @brief A stream failed (a device fault, a stage that threw on the stream): the run stopped.
/// `what()` names the frame, its stream, the step it had reached where known, and the cause.
class pipeline_failure : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// @brief Processes every frame of `plan` on `be` and returns what happened. Per-frame failures
/// (unreadable input, failed write) are recorded in the report, never thrown; the other frames
/// are still processed.
/// @throws pipeline_failure when a stream fails: no further frame is submitted, the frames in
/// flight on healthy streams are still written, then the first failure is thrown. Never hangs
/// on a failed stream (CUDA calls no host function once its context has an error).
/// @note Per frame: the calling thread assigns it to a free stream (one frame per stream in
/// flight); a host thread (`o.threads`, one per core by default; frames taken in the order
/// assigned) decodes it into a pinned chunk and enqueues the rest on the frame's stream: a device
/// chunk filled by memcpy_async, the stage kernels with temporaries from the device pool, the
/// copy back into a pinned output chunk. A host thread encodes the output once the stream has
/// run the frame: an event recorded after it has completed (the waits poll it every 20 ms, and
/// a query that fails is the stream's failure), or, sooner, a host function after it said so.
/// Host threads write ready frames before decoding new ones. The only waits are a frame's for a
/// free stream and for a host thread (both in the report). Per-step times come from the
/// launcher's frame_clock (CUDA: timing events).
/// @note Several devices (`o.devices`): stream i is on device `o.devices[i % n]`; each device has
/// its own device pool (one pool_group), launcher and host threads (`o.threads` split, at least
/// one each) that take only its streams' frames; pinned chunks come from one shared pool or a
/// pool per device (`o.pinned_pool`). On the CPU backend devices beyond 0 are emulated
/// (devices.hpp). The report gives each device's streams, host threads and frames.
run_report run_pipeline(const options& o, std::shared_ptr<backend> be,
                        const std::vector<frame_source>& plan, const progress_fn& progress);

}  // namespace pinpool::pipeline
