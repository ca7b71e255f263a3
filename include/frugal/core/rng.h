// Deterministic seeded random numbers (SplitMix64 seeding a xoshiro256** stream), so the same
// seed gives the same init, data order, dropout masks and Poisson spikes on every machine.
#pragma once
#include <cstdint>
#include <vector>

namespace frugal {

class Rng {
 public:
  explicit Rng(uint64_t seed = 0);
  uint64_t next_u64();
  float uniform();                  // [0, 1)
  float uniform(float lo, float hi);
  float normal();                   // standard normal (Box-Muller)
  int64_t below(int64_t n);         // uniform integer in [0, n)
  void shuffle(std::vector<int64_t>& items);
  uint64_t state_hash() const;      // for tests: streams compare equal by this

  // The whole state, so checkpoints can resume a stream exactly.
  std::vector<uint64_t> state() const { return {s_[0], s_[1], s_[2], s_[3]}; }
  void set_state(const std::vector<uint64_t>& state);

 private:
  uint64_t s_[4];
};

}  // namespace frugal
