"""Everything that leaves the catalog or comes back into it from other tools.

``albums`` exports one folder per person; ``xmp`` reads and merges Metadata
Working Group face regions in XMP; ``sidecars`` writes them beside photos;
``names`` makes untrusted person names safe as folder names. Turning regions
other tools wrote into names is a user operation, so it lives with the other
facts in ``engine.people.importer``. Nothing here imports Qt, and nothing
here ever modifies an original photo's bytes.
"""
