// pinpool::ucx::registry with a real UCX context: slabs are mapped when created and unmapped
// before they are freed, and a chunk of a registered pinned slab is the remote target of a put
// and the source of a get between two workers of this process (UCX picks the transport:
// shared memory or loopback).
#include <pinpool/pinpool.hpp>
#include <pinpool/ucx_registry.hpp>

#include <cstring>
#include <gtest/gtest.h>
#include <numeric>
#include <stdexcept>
#include <ucp/api/ucp.h>
#include <vector>

namespace {

/// One UCX context with RMA and two workers, A connected to B.
class ucx_pair : public ::testing::Test {
 protected:
  void SetUp() override {
    ucp_config_t* config = nullptr;
    ASSERT_EQ(ucp_config_read(nullptr, nullptr, &config), UCS_OK);
    ucp_params_t params{};
    params.field_mask = UCP_PARAM_FIELD_FEATURES;
    params.features = UCP_FEATURE_RMA;
    const ucs_status_t status = ucp_init(&params, config, &context_);
    ucp_config_release(config);
    ASSERT_EQ(status, UCS_OK) << ucs_status_string(status);
    for (ucp_worker_h* w : {&a_, &b_}) {
      ucp_worker_params_t wp{};
      wp.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE;
      wp.thread_mode = UCS_THREAD_MODE_SINGLE;
      ASSERT_EQ(ucp_worker_create(context_, &wp, w), UCS_OK);
    }
    ucp_address_t* address = nullptr;
    std::size_t length = 0;
    ASSERT_EQ(ucp_worker_get_address(b_, &address, &length), UCS_OK);
    ucp_ep_params_t ep{};
    ep.field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS;
    ep.address = address;
    const ucs_status_t made = ucp_ep_create(a_, &ep, &a_to_b_);
    ucp_worker_release_address(b_, address);
    ASSERT_EQ(made, UCS_OK) << ucs_status_string(made);
  }
  void TearDown() override {
    if (a_to_b_ != nullptr) {
      ucp_request_param_t param{};
      param.op_attr_mask = UCP_OP_ATTR_FIELD_FLAGS;
      param.flags = UCP_EP_CLOSE_FLAG_FORCE;
      wait(ucp_ep_close_nbx(a_to_b_, &param));
    }
    if (a_ != nullptr) ucp_worker_destroy(a_);
    if (b_ != nullptr) ucp_worker_destroy(b_);
    if (context_ != nullptr) ucp_cleanup(context_);
  }
  /// Progresses both workers until `request` is done.
  ucs_status_t wait(ucs_status_ptr_t request) {
    if (request == nullptr) return UCS_OK;
    if (UCS_PTR_IS_ERR(request)) return UCS_PTR_STATUS(request);
    ucs_status_t status = UCS_INPROGRESS;
    while ((status = ucp_request_check_status(request)) == UCS_INPROGRESS) {
      ucp_worker_progress(a_);
      ucp_worker_progress(b_);
    }
    ucp_request_free(request);
    return status;
  }
  ucs_status_t flush() {
    ucp_request_param_t param{};
    return wait(ucp_ep_flush_nbx(a_to_b_, &param));
  }

  ucp_context_h context_ = nullptr;
  ucp_worker_h a_ = nullptr;
  ucp_worker_h b_ = nullptr;
  ucp_ep_h a_to_b_ = nullptr;
};

pinpool::pool_options pinned(const pinpool::slab_hooks& hooks) {
  pinpool::pool_options o;
  o.kind = pinpool::memory_kind::pinned_host;
  o.slab_bytes = 1 << 20;
  o.first_slab_bytes = 1 << 20;
  o.hooks = hooks;
  return o;
}

TEST_F(ucx_pair, a_chunk_of_a_registered_slab_is_put_into_and_read_back_by_its_remote_key) {
  pinpool::ucx::registry registry(context_);
  auto be = pinpool::make_backend(pinpool::backend_kind::cpu);
  {
    pinpool::pool pool(be, pinned(registry.hooks()));
    pinpool::buffer target = pool.acquire(64 << 10);
    EXPECT_EQ(registry.size(), 1u);
    ASSERT_NE(registry.find(target.data(), target.size()), nullptr);
    std::memset(target.data(), 0, target.size());

    // B's side packs the slab's key; A unpacks it and writes into the chunk.
    const std::vector<std::uint8_t> key = registry.pack_rkey(target.data());
    ucp_rkey_h rkey = nullptr;
    ASSERT_EQ(ucp_ep_rkey_unpack(a_to_b_, key.data(), &rkey), UCS_OK);
    std::vector<unsigned char> sent(target.size());
    std::iota(sent.begin(), sent.end(), static_cast<unsigned char>(7));
    const auto remote = reinterpret_cast<std::uint64_t>(target.data());
    ucp_request_param_t param{};
    ASSERT_EQ(wait(ucp_put_nbx(a_to_b_, sent.data(), sent.size(), remote, rkey, &param)), UCS_OK);
    ASSERT_EQ(flush(), UCS_OK);
    EXPECT_EQ(std::memcmp(target.data(), sent.data(), sent.size()), 0) << "the put arrived";

    std::vector<unsigned char> read(target.size(), 0);
    ASSERT_EQ(wait(ucp_get_nbx(a_to_b_, read.data(), read.size(), remote, rkey, &param)), UCS_OK);
    ASSERT_EQ(flush(), UCS_OK);
    EXPECT_EQ(read, sent) << "read back by the same key";
    ucp_rkey_destroy(rkey);
  }
  EXPECT_EQ(registry.size(), 0u) << "the pool's slab was unmapped before it was freed";
}

TEST_F(ucx_pair, unregistered_memory_has_no_key_and_device_slabs_are_refused) {
  pinpool::ucx::registry registry(context_);
  int not_in_a_slab = 0;
  EXPECT_EQ(registry.find(&not_in_a_slab), nullptr);
  EXPECT_THROW(registry.pack_rkey(&not_in_a_slab), std::invalid_argument);
  auto be = pinpool::make_backend(pinpool::backend_kind::cpu);
  pinpool::pool_options o = pinned(registry.hooks());
  o.kind = pinpool::memory_kind::device;
  pinpool::pool device_pool(be, o);
  EXPECT_THROW(device_pool.acquire(4096), std::invalid_argument) << "the hook refuses the slab";
  EXPECT_EQ(device_pool.stats().slabs, 0u) << "the pool is unchanged";
  EXPECT_EQ(registry.size(), 0u);
}

}  // namespace
