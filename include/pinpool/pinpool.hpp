#pragma once
/// @file pinpool.hpp
/// @brief Everything of pinpool's public contract.

#include <pinpool/arena.hpp>
#include <pinpool/backend.hpp>
#include <pinpool/buffer.hpp>
#include <pinpool/error.hpp>
#include <pinpool/graph_scope.hpp>
#include <pinpool/log.hpp>
#include <pinpool/memory_kind.hpp>
#include <pinpool/pool.hpp>
#include <pinpool/pool_group.hpp>
#include <pinpool/pool_leak_report.hpp>
#include <pinpool/pool_options.hpp>
#include <pinpool/pool_stats.hpp>
#include <pinpool/shared_buffer.hpp>
#include <pinpool/slab_hooks.hpp>
#include <pinpool/span.hpp>
#include <pinpool/stream.hpp>
#include <pinpool/version.hpp>
