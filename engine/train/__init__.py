"""Training embedders the FaceNet way, and learning from the user's corrections.

``triplet`` holds the loss and the online mining of triplets inside a batch,
``sampler`` the P x K identity sampler, ``trainer`` the loop that trains or
fine-tunes a whole embedder on a folder-per-identity dataset, and ``adapter``
the small projection head learned from the catalog's facts. Nothing here
imports Qt, and nothing here writes a user's facts: the adapter only reads
them.
"""
