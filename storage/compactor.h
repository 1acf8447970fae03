// The compactor of a shard: its own thread, which rewrites closed partitions one at a time, and
// the record of which partitions are finished or queued. Private to storage/.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "storage/partition.h"

namespace skua::storage {

// Thread-safe. The thread starts with the first partition queued.
class Compactor {
 public:
  // `finish` rewrites and marks one closed partition (on the compactor thread); `live` says
  // whether a partition is still in the shard (a failure on a dropped one is not worth a
  // warning). Both must stay callable until Stop() returns.
  Compactor(int shard_id, std::function<absl::Status(const Partition&)> finish,
            std::function<bool(const std::string&)> live);
  ~Compactor() { Stop({}); }

  // Finished, or queued for (or in) the compactor.
  bool Handled(const std::string& partition) const;
  void MarkFinished(const std::string& partition);
  // A dropped partition: forgotten.
  void Forget(const std::string& partition);
  void Enqueue(const Partition& p);

  // Ends the thread; `interrupt` (if set) is called when it runs, to cut a running rewrite
  // short. Afterwards nothing more is rewritten.
  void Stop(const std::function<void()>& interrupt);

 private:
  void Run();

  const int shard_id_;
  const std::function<absl::Status(const Partition&)> finish_;
  const std::function<bool(const std::string&)> live_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::set<std::string> finished_, queued_;  // guarded by mu_
  std::deque<Partition> queue_;              // guarded by mu_
  bool stop_ = false;                        // guarded by mu_
  std::thread thread_;                       // started with the first partition queued
};

}  // namespace skua::storage
