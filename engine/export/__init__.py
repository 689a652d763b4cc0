"""Everything that leaves the catalog or comes back into it from other tools.

``albums`` exports one folder per person; ``xmp`` reads and merges Metadata
Working Group face regions in XMP; ``sidecars`` writes them beside photos;
``importer`` turns regions other tools wrote into user facts during a scan;
``names`` makes untrusted person names safe as folder names. Nothing here
imports Qt, and nothing here ever modifies an original photo's bytes.
"""
