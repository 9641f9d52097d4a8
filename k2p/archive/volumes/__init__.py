"""Split volume sets: one single-file archive cut into ``NAME.001``, ``NAME.002``, … for media with
a file-size limit (FAT32: 4 GiB − 1 byte), plus a small index that lets every volume be checked on
its own.

Writing (:mod:`.writer`): ``k2p pack --volume-size`` streams the tar (or its age ciphertext) into
:class:`~.writer.VolumeWriter`, which cuts it at exact byte counts into temporary files, hashes
each volume and the whole on the way, renames them all when the stream ends and writes the index
``NAME.k2p.volumes`` (JSON, :class:`~.index.VolumeIndex`) and ``NAME.k2p.volumes.sha256`` (for
``sha256sum -c``) last: an index exists only for a complete set. The volumes are plain byte
ranges: ``cat NAME.k2p.tar.* > NAME.k2p.tar`` rebuilds the single file.

Reading (:mod:`.reader`): :func:`~.reader.open_volume_set` takes the index or any volume, checks
that every volume is present with the size the index gives (a missing one is named, exit 4; a
wrong size is named, exit 3) and presents the set as one seekable byte stream
(:class:`~.reader.ConcatReader`), so the tar readers read members in place across volume
boundaries without joining anything on disk. :func:`~.reader.check_volume` checks one volume
against the index (``k2p verify NAME.k2p.tar.003``).

The index is untrusted input like the rest of the archive: bounded in size, names validated
against the pattern the writer uses (no path components), at most :data:`~.index.MAX_VOLUMES`.
"""
