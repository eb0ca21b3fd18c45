// SPDX-License-Identifier: BSD-3-Clause
/// \brief Umbrella header: online SBI — the simulate → buffer → train pipeline and its parts (workers, trainer, monitor, checkpoints).
#pragma once

#include <osbi/online/metrics.hpp>
#include <osbi/online/monitor.hpp>
#include <osbi/online/online_trainer.hpp>
#include <osbi/online/options.hpp>
#include <osbi/online/pipeline.hpp>
#include <osbi/online/pipeline_checkpoint.hpp>
#include <osbi/online/schedule.hpp>
#include <osbi/online/simulation_workers.hpp>
#include <osbi/online/transport.hpp>
