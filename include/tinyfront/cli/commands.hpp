// The subcommands of the tinyfront CLI. Each registers its options on the CLI11 app and returns
// the function that runs it. main.cpp only wires them together.
#pragma once

#include <CLI/CLI.hpp>
#include <functional>

namespace tinyfront::cli {

using Command = std::function<int()>;

Command add_train(CLI::App& app);
Command add_plan(CLI::App& app);
Command add_sweep(CLI::App& app);
Command add_status(CLI::App& app);
Command add_merge(CLI::App& app);
Command add_export(CLI::App& app);
Command add_analyze(CLI::App& app);
Command add_bench(CLI::App& app);
Command add_submit(CLI::App& app);
Command add_sample(CLI::App& app);
Command add_model_master(CLI::App& app);

}  // namespace tinyfront::cli
