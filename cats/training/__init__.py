"""Training for the generator, the classifier and the few-step student (``python -m cats.training``), one job per module:

config.py      TrainConfig (saved in RUN_DIR/config.json and every checkpoint), config files, defaults
__main__.py    the command (python -m cats.training, tiny-cats-train): cli.main, user errors as one line
cli.py         argparse -> TrainConfig -> Trainer
loop.py        Trainer: accelerate, AdamW, LR schedule, EMA, NaN guard, time budget, logging, checkpoints
lr.py          warm-up + cosine schedule whose horizon survives resume
ema.py         EMA of the weights (what the exported models ship)
checkpoint.py  atomic, verified checkpoints; newest-complete lookup for --resume
batches.py     device-resident splits, seeded data order and per-step generators (exact resume)
logs.py        TensorBoard, sample PNGs, progress bar
provenance.py  where a model's data came from (RUN_DIR/data.json, the pipeline's trained_on)
generator_task.py / classifier_task.py / fewstep_task.py   what differs between the three models
pairs.py       teacher pairs for the few-step student (python -m cats.training.pairs)
transforms.py  the classifier's batched augmentation and eval transform, class-balanced sampling weights
ood_features.py  a classifier's features and its familiarity statistics, fitted at the end of its training
"""
