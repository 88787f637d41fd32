// What an MpiWorld holds (private to the mpi module): the Boost.MPI environment, then the world
// communicator, so that the communicator goes before MPI is finalised.
#pragma once

#include <boost/mpi/communicator.hpp>
#include <boost/mpi/environment.hpp>

#include "tinyfront/mpi/world.hpp"

namespace tinyfront {

struct MpiWorld::Impl {
  boost::mpi::environment env{boost::mpi::threading::single, false};
  boost::mpi::communicator comm;
};

}  // namespace tinyfront
