"""Chapter code: the runners and diagnostics behind the book's experiments.

* ``runner``         the experiment runner: a parameter grid times batched, seeded replicates
  (chapters 3 and 5);
* ``loss_to_svd``    diagnostics of the loss-to-SVD view (chapter 2);
* ``robustness``     the robustness chapter's trial (chapter 3);
* ``unpaired_runs``  the unpaired-data experiments and their saved tables (chapter 4).
"""
from .loss_to_svd import (SolverRace, clip_weights_sweep, effective_negatives,
                          gradient_relative_error, iterations_to_tolerance, relative_error_path,
                          solver_race, stack_iterates, update_alignment, weights_from_loss)
from .robustness import METHODS, robustness_trial
from .runner import (ExperimentConfig, ExperimentResult, crossover, loglog_slope, point_seed,
                     run_experiment)
from .unpaired_runs import (PUBLISHED_SEC51, UnpairedSetting, draw_setting, gap_closed,
                            load_table, run_grid, run_recipe, run_spectral, save_table,
                            spectral_grid, table_matrix, table_values)
