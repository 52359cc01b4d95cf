#pragma once
/// @file version.hpp
#define PINPOOL_VERSION_MAJOR 0
#define PINPOOL_VERSION_MINOR 1
#define PINPOOL_VERSION_PATCH 0
