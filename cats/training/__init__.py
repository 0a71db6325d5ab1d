"""Training for the generator and the classifier (``python -m cats.training``), one job per module:

config.py      TrainConfig (saved in RUN_DIR/config.json and every checkpoint), config files, defaults
__main__.py    the command (python -m cats.training, tiny-cats-train): cli.main, user errors as one line
cli.py         argparse -> TrainConfig -> Trainer
loop.py        Trainer: accelerate, AdamW, LR schedule, EMA, NaN guard, time budget, logging, checkpoints
lr.py          warm-up + cosine schedule whose horizon survives resume
ema.py         EMA of the weights (what the exported models ship)
checkpoint.py  atomic, verified checkpoints; newest-complete lookup for --resume
batches.py     device-resident splits, seeded data order and per-step generators (exact resume)
logs.py        TensorBoard, sample PNGs, progress bar
generator_task.py / classifier_task.py   what differs between the two models
transforms.py  the classifier's batched augmentation and eval transform, class-balanced sampling weights
"""
