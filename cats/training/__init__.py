"""Training for the generator and the classifier (``python -m cats.train``), one job per module:

config.py      TrainConfig (saved in RUN_DIR/config.json and every checkpoint), config files, defaults
cli.py         argparse -> TrainConfig -> Trainer
loop.py        Trainer: accelerate, AdamW, LR schedule, EMA, NaN guard, time budget, logging, checkpoints
lr.py          warm-up + cosine schedule whose horizon survives resume
ema.py         EMA of the weights (what the exported models ship)
checkpoint.py  atomic, verified checkpoints; newest-complete lookup for --resume
batches.py     device-resident splits, seeded data order and per-step generators (exact resume)
logs.py        TensorBoard, sample PNGs, progress bar
generator_task.py / classifier_task.py   what differs between the two models
"""
