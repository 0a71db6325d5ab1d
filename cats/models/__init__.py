"""The networks: ``CatDiT`` (generator, ``cats.models.dit``) and ``CatClassifier`` (``cats.models.classifier``).

Import each from its module, so that importing one does not import the other's dependencies
(``from cats import CatDiT, CatClassifier`` loads them on first use).
"""
