// The MPI job this process belongs to, as the commands see it: its rank, its size and the two
// collectives they need. Boost.MPI stays inside the mpi module (its types are named only in
// src/mpi/: world_impl.hpp and the scheduler's files), so the CLI never includes it.
#pragma once

#include <memory>

namespace tinyfront {

class MpiWorld {
 public:
  // Initialises MPI (single-threaded; an exception does not abort the job: the commands end it
  // with one message themselves) and finalises it at destruction.
  MpiWorld();
  ~MpiWorld();
  MpiWorld(const MpiWorld&) = delete;
  MpiWorld& operator=(const MpiWorld&) = delete;

  int rank() const;
  int size() const;
  // Collective: every rank calls it and gets rank 0's value.
  int broadcast_from_master(int value) const;
  // Collective: returns once every rank has called it.
  void barrier() const;

  struct Impl;  // the Boost.MPI environment and communicator
  Impl& impl() const { return *impl_; }

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace tinyfront
