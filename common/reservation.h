#pragma once

#include <atomic>
#include <cstddef>
#include <optional>
#include <utility>

namespace booking::common {

// A share of a counted resource (connections, body memory, calls in flight), given back when
// destroyed or Reset: whatever path a request takes out, the count comes down exactly once.
class Reservation {
 public:
  Reservation() = default;
  Reservation(Reservation&& other) noexcept
      : counter_(std::exchange(other.counter_, nullptr)), amount_(other.amount_) {}
  Reservation& operator=(Reservation&& other) noexcept {
    if (this != &other) {
      Reset();
      counter_ = std::exchange(other.counter_, nullptr);
      amount_ = other.amount_;
    }
    return *this;
  }
  Reservation(const Reservation&) = delete;
  Reservation& operator=(const Reservation&) = delete;
  ~Reservation() { Reset(); }

  // Gives the share back now (at most once).
  void Reset() {
    if (counter_ != nullptr) counter_->fetch_sub(amount_);
    counter_ = nullptr;
  }
  bool held() const { return counter_ != nullptr; }

  // Takes `amount` of `counter` unless that would pass `limit`; nullopt leaves `counter` as it was.
  [[nodiscard]] static std::optional<Reservation> TryTake(std::atomic<size_t>& counter,
                                                          size_t amount, size_t limit) {
    size_t now = counter.load();
    do {
      if (now + amount > limit) return std::nullopt;
    } while (!counter.compare_exchange_weak(now, now + amount));
    return Reservation(&counter, amount);
  }

 private:
  Reservation(std::atomic<size_t>* counter, size_t amount) : counter_(counter), amount_(amount) {}

  std::atomic<size_t>* counter_ = nullptr;
  size_t amount_ = 0;
};

}  // namespace booking::common
