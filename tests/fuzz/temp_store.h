// A real SpanStore in a temporary directory for a fuzz harness: opened on first use, removed
// when the harness exits.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "common/clock.h"
#include "storage/span_store.h"

namespace skua::fuzz {

inline storage::SpanStore& TempStore(int shards) {
  static std::string dir;
  static common::SystemClock clock;
  static std::unique_ptr<storage::SpanStore> store = [shards] {
    char path[] = "/tmp/skua-fuzz-store-XXXXXX";
    if (mkdtemp(path) == nullptr) abort();
    dir = path;
    std::atexit([] { std::filesystem::remove_all(dir); });
    config::StorageConfig config;
    config.path = dir;
    config.shards = shards;
    config.memtable_size = 16 << 20;
    config.min_free_disk_bytes = 0;
    auto opened = storage::SpanStore::Open(config, clock);
    if (!opened.ok()) abort();
    return std::move(*opened);
  }();
  return *store;
}

inline common::Clock& FuzzClock() {
  static common::SystemClock clock;
  return clock;
}

}  // namespace skua::fuzz
