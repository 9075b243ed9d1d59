"""Retrieval: a question → the best chunks, by dense and lexical search fused into cited hits.

``query`` cleans the question, ``filters`` restricts letters, ``fusion`` merges the two rankings,
``hits`` turns chunks into citable :class:`~rag.retrieve.hits.Hit` objects and ``hybrid`` runs it all
over the stores. (No imports here: the stores import ``filters`` without pulling in the search.)
"""
