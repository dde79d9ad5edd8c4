#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "storage/event_store.h"

namespace booking::storage {

// The log is split by ticket into this many partitions (fixed: it is in the stored rows).
// Partitions are the unit of ownership between instances and of ordering within a handler.
inline constexpr int kLogPartitions = 16;

// A place in one partition of the log: events are read in (tx, sequence) order, tx being the
// appending transaction's id, so a reader never passes an event still being committed.
struct LogPosition {
  uint64_t tx = 0;
  int64_t sequence = 0;
  friend bool operator<(const LogPosition& a, const LogPosition& b) {
    return a.tx != b.tx ? a.tx < b.tx : a.sequence < b.sequence;
  }
  friend bool operator==(const LogPosition& a, const LogPosition& b) {
    return a.tx == b.tx && a.sequence == b.sequence;
  }
};

// A partition this instance holds, with the epoch its writes are fenced by.
struct PartitionLease {
  int partition = 0;
  int64_t epoch = 0;
};

// One event of a handler's batch.
struct LoggedEvent {
  EventRecord event;
  int partition = -1;    // -1: a redelivery (a dead letter sent back), not a place in the log
  LogPosition position;  // in its partition
  // Handed to this handler before, by an owner that did not finish it (a crash or a lost lease).
  bool redelivered = false;
  // A log event whose ticket has a parked (or queued) event of this handler ahead of it: it must
  // queue behind that one rather than be handled now (ReadOptions::by_ticket only).
  bool blocked = false;
  // A redelivery's attempts so far, this one included, and its first failure (InfinitePast: it
  // has not failed yet, e.g. a replay, or an event that queued behind a parked one).
  int attempts = 0;
  absl::Time first_failed_at = absl::InfinitePast();
};

struct ReadOptions {
  std::string owner;
  absl::Span<const PartitionLease> partitions{};
  std::vector<std::string> event_types;  // the handler's, in one (tx, sequence) order
  int limit_per_partition = 256;
  int max_redeliveries = 0;  // rows of `deliveries` to claim as well (0: none)
  // Record how far events were handed out, so that after a crash the next owner knows which
  // ones may have been handled already (worth a write only toward an API that may duplicate).
  bool mark_handed_out = false;
  absl::Duration redelivery_lease = absl::Seconds(30);
  // Keep each ticket's events in order across parking: mark log events of tickets with a
  // redelivery row of this handler as `blocked`. (A handler that calls an API per event.)
  bool by_ticket = false;
};

struct HandlerBatchRead {
  std::vector<LoggedEvent> events;  // log events by partition, then position; redeliveries last
  // Per partition read: where the batch ends (its last event).
  std::vector<std::pair<PartitionLease, LogPosition>> ends;
};

// What a handler finished: checkpoints to advance, redeliveries done, and dead letters.
struct HandlerProgress {
  std::string owner;
  std::vector<std::pair<PartitionLease, LogPosition>> checkpoints{};
  std::vector<int64_t> redeliveries_done{};  // sequences; dead-lettered ones are in dead_letters
  struct DeadLetter {
    int64_t sequence = 0;
    int partition = -1;  // -1: a redelivery
    int attempts = 0;
    std::string reason;
  };
  std::vector<DeadLetter> dead_letters{};
  // Events finished, recorded as steps for watchers (with what the handler reported, such as a
  // receipt's number) in the same transaction, fenced like the checkpoints. Dead letters are
  // recorded as steps too.
  struct Finished {
    int64_t sequence = 0;
    int partition = -1;  // -1: a redelivery
    std::string note;
  };
  std::vector<Finished> finished{};
  // Events set aside as rows of `deliveries`: one the API refused on its own (parked, retried on
  // its own schedule), or one queued behind such an event of its ticket. A log event's row is
  // written fenced as its partition's checkpoint (partition >= 0); a redelivery that failed
  // again (partition -1) is rescheduled while its claim is held. Each failing one is recorded as
  // a 'retrying' step for watchers.
  struct Parked {
    int64_t sequence = 0;
    int partition = -1;  // -1: a claimed redelivery, rescheduled
    std::string ticket_id;
    absl::Time next_attempt;
    absl::Time first_failed_at = absl::InfinitePast();  // InfinitePast: queued behind, not failed
    std::string reason;                                 // empty when queued behind
    int attempts = 0;                                   // calls made so far (log events)
  };
  std::vector<Parked> parked{};
};

struct CommitResult {
  int stale_partitions = 0;    // checkpoints not written: the partition changed owner meanwhile
  std::vector<int> stale;      // which partitions those were
  int stale_dead_letters = 0;  // dead letters of such partitions, not written either
};

// A handler's parked events (failed on their own, waiting for their next attempt), over all
// instances.
// A handler's unfinished work, over all instances.
struct HandlerBacklog {
  std::string handler;
  int64_t events = 0;  // log events past its checkpoints, and redeliveries
  // When the first log event past its checkpoints was published (the oldest partition's);
  // InfiniteFuture when it has read the whole log. Redeliveries are not in it.
  absl::Time oldest_unread = absl::InfiniteFuture();
};

struct ParkedSummary {
  std::string handler;
  int64_t parked = 0;
  absl::Time oldest = absl::InfiniteFuture();  // the oldest one's first failure
};

// Where start-up puts a handler never seen before: at the oldest event still in the log, or
// after every transaction that had started when it was registered.
enum class StartFrom { kEarliest, kLatest };

// How handlers consume the durable log: per (handler, partition) checkpoints, partitions leased
// by instances, fenced writes. Thread-safe.
class HandlerLog {
 public:
  virtual ~HandlerLog() = default;

  // Records the handler and its event types, and gives it checkpoints where it has none. A
  // handler's checkpoints are positions among the events of its types, read in one order: it
  // never reads others.
  // True when the handler was new here (placed at `start`); false: it goes on where it was. A
  // retired handler (HandlerRegistry::Retire) is un-retired.
  [[nodiscard]] virtual absl::StatusOr<bool> Register(const std::string& handler,
                                                      absl::Span<const std::string> event_types,
                                                      StartFrom start) = 0;

  // The next events of the held partitions past the handler's checkpoints (and, if asked, due
  // redeliveries, leased to the owner), marking them as handed out.
  [[nodiscard]] virtual absl::StatusOr<HandlerBatchRead> Read(const std::string& handler,
                                                              const ReadOptions& options) = 0;

  // Writes the progress in one durable transaction, fenced: a checkpoint (and its partition's
  // dead letters, parked events and steps) only while the owner still holds that partition at
  // that epoch, the lease rows locked until the commit so a claim by another instance waits or
  // wins; a checkpoint never moves backwards. A redelivery only while the owner still holds its
  // lease. Text from outside (reasons, notes) is stored as SafeText.
  [[nodiscard]] virtual absl::StatusOr<CommitResult> Commit(const std::string& handler,
                                                            const HandlerProgress& progress) = 0;

  // Leases. Renews what `owner` holds (partitions and claimed redeliveries) and its liveness.
  [[nodiscard]] virtual absl::StatusOr<std::vector<PartitionLease>> Renew(const std::string& owner,
                                                                          absl::Duration lease) = 0;
  // Instances alive now, `owner` included.
  [[nodiscard]] virtual absl::StatusOr<int> LiveOwners() = 0;
  // Takes up to `count` partitions that are free or whose lease expired.
  [[nodiscard]] virtual absl::StatusOr<std::vector<PartitionLease>> Claim(const std::string& owner,
                                                                          absl::Duration lease,
                                                                          int count) = 0;
  // Gives partitions up (a fair share for another instance, or shutdown), and, when `leaving`,
  // the owner's liveness and redelivery leases too.
  [[nodiscard]] virtual absl::Status Release(const std::string& owner,
                                             absl::Span<const int> partitions, bool leaving) = 0;

  // Unfinished events per handler (log events past the checkpoint, and redeliveries).
  [[nodiscard]] virtual absl::StatusOr<std::vector<HandlerBacklog>> Backlog() = 0;
  // Parked events per handler that has any.
  [[nodiscard]] virtual absl::StatusOr<std::vector<ParkedSummary>> Parked() = 0;
};

}  // namespace booking::storage
