// SPDX-License-Identifier: BSD-3-Clause
/// \brief Sample buffers: the SampleSink, SampleSource and SampleBuffer concepts, their models and checkpoint sections.
#pragma once

#include <osbi/buffer/buffer_base.hpp>
#include <osbi/buffer/buffer_checkpoint.hpp>
#include <osbi/buffer/fifo_buffer.hpp>
#include <osbi/buffer/firo_buffer.hpp>
#include <osbi/buffer/prioritized_buffer.hpp>
#include <osbi/buffer/prioritized_sample_source.hpp>
#include <osbi/buffer/reservoir_buffer.hpp>
#include <osbi/buffer/sample_buffer.hpp>
#include <osbi/buffer/sample_sink.hpp>
#include <osbi/buffer/sample_source.hpp>
