"""Speed, diagnostic and study scripts: they measure the pipeline, they are no stage of it.

The stages (collect, train, evaluate, report, the grid) live in ``benchmark``; nothing there
imports this package, and ``benchmark.provenance`` leaves it out of every code hash, so editing
a script never makes a dataset, checkpoint or benchmark cell stale. Each script is a tyro CLI
(``--help`` lists its options); the figures they produced are in ``results/benchmarks/``.

- env_speed: env steps/s with rendering, raw simulator vs the wmbench wrapper
  (``python -m benchmark.scripts.env_speed``)
- collection_cost: collection time and disk per preset and env
  (``python -m benchmark.scripts.collection_cost``)
- loader_speed: training batches/s of ``WindowDataset.__getitems__`` in the trainer's batch
  order, with and without its prefetch thread (``python -m benchmark.scripts.loader_speed``)
- train_speed: training samples/s and TFLOP/s per model and preset
  (``python -m benchmark.scripts.train_speed``)
- planning_speed: solve time, model calls, overhead and TFLOP/s per planner
  (``python -m benchmark.scripts.planning_speed``)
- gpu_check: the paper presets' speed and a TwoRoom learning check on one GPU
  (``python -m benchmark.scripts.gpu_check``)
- task_floors: floors and expert ceiling of candidate task protocols
  (``python -m benchmark.scripts.task_floors``)
- collapse: effective rank, spread and cosine with and without a regulariser
  (``python -m benchmark.scripts.collapse``)
- lewm_ab: LeWM variants on the same data, prediction while training and CEM success
  (``python -m benchmark.scripts.lewm_ab``)
- levers: data, model and planning levers of one env, paired against its base
  (``python -m benchmark.scripts.levers``)
- lr_sweep: three learning rates per world model, chosen on held-out prediction skill
  (``python -m benchmark.scripts.lr_sweep``)
- compare: two runs of a suite cell by cell, paired per task
  (``python -m benchmark.scripts.compare BEFORE AFTER``)
- planner_budget: the planners at an equal budget of one-step predictions per solve
  (``python -m benchmark.scripts.planner_budget``)
- env_gallery: start, mid-episode and goal frames of every env
  (``python -m benchmark.scripts.env_gallery``)
- flops: FLOP counting and TFLOP/s for the speed scripts (a helper module, no command)
"""
