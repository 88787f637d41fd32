#include "tinyfront/mpi/world.hpp"

#include <boost/mpi/collectives.hpp>

#include "world_impl.hpp"

namespace tinyfront {

MpiWorld::MpiWorld() : impl_(std::make_unique<Impl>()) {}
MpiWorld::~MpiWorld() = default;

int MpiWorld::rank() const {
  return impl_->comm.rank();
}

int MpiWorld::size() const {
  return impl_->comm.size();
}

int MpiWorld::broadcast_from_master(int value) const {
  boost::mpi::broadcast(impl_->comm, value, 0);
  return value;
}

void MpiWorld::barrier() const {
  impl_->comm.barrier();
}

}  // namespace tinyfront
