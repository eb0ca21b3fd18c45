// SPDX-License-Identifier: BSD-3-Clause
/// \brief A flat parameter vector in a checkpoint: read_parameters, save_parameters, load_parameters.
#pragma once

#include <osbi/io/checkpoint.hpp>

#include <osbi/core/error.hpp>

#include <filesystem>
#include <string_view>

/*
 * Why here and not with the optimizer: a parameter vector is one rank-1 section and nothing more,
 * so these helpers need only the container. Estimators, the online pipeline and the optimizer
 * adapters (optim/optimizer_checkpoint.hpp) all build on them; none of them is needed to use these.
 */
namespace osbi {

/// A rank-1 Kokkos::View of a checkpoint element type, in any memory space: a flat parameter vector.
template <class ViewType>
concept CheckpointVector = detail::CheckpointView<ViewType> &&(ViewType::rank == 1);

/// Copies the rank-1 section `name` into `parameters`: DimensionMismatch naming both lengths if they
/// differ, DataError if the section is missing or not a vector of the parameters' element type. Fences.
template <CheckpointVector ViewType>
void read_parameters(const CheckpointReader& reader, std::string_view name, const ViewType& parameters) {
  using Scalar = typename ViewType::non_const_value_type;
  const CheckpointSection& section = reader.section(name);
  if (section.type != CheckpointTypeOf<Scalar>::value || section.shape.size() != 1)
    throw DataError("osbi::read_parameters",
                    osbi::detail::concat(reader.path(), ": section '", name, "' holds ",
                                         checkpoint_type_name(section.type), " of shape ",
                                         detail::checkpoint_shape_text(section.shape), ", expected a vector of ",
                                         checkpoint_type_name(CheckpointTypeOf<Scalar>::value)));
  require_extent(parameters.extent(0), section.shape[0], "osbi::read_parameters",
                 osbi::detail::concat("the parameter vector (", reader.path(), " holds '", name, "')"));
  reader.read_into(name, parameters);
}

/// A checkpoint holding one flat parameter vector (section "parameters"); fence the space that
/// wrote the parameters first.
template <CheckpointVector ViewType>
void save_parameters(const std::filesystem::path& path, const ViewType& parameters) {
  CheckpointWriter writer;
  writer.add("parameters", parameters);
  writer.write(path);
}

/// Reads what save_parameters wrote into `parameters` (same length, else DimensionMismatch).
template <CheckpointVector ViewType>
void load_parameters(const std::filesystem::path& path, const ViewType& parameters) {
  read_parameters(CheckpointReader(path), "parameters", parameters);
}

} // namespace osbi
