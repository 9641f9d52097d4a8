"""Encryption in transit: the age format (https://age-encryption.org/v1) through pyrage.

This package owns everything secret about carrying an archive: parsing age X25519 recipients,
loading identities (``--identity FILE`` or env ``K2P_AGE_IDENTITY``) and passphrases (a file or a
terminal prompt, never the command line), and turning a byte stream into ciphertext and back. It
knows nothing about archives: callers hand it bytes.

Data flow. Writing: the tar writer pushes plaintext into :class:`~k2p.crypt.stream.EncryptingWriter`,
a bounded queue feeds ``pyrage.encrypt_io`` on a worker thread, and the ciphertext goes to the next
sink (one file, or the volume writer). Reading: :class:`~k2p.crypt.stream.DecryptingReader` runs
``pyrage.decrypt_io`` on a worker thread over the ciphertext (one file or a volume set read in
place) and hands the plaintext out in order through a bounded queue: memory stays flat and nothing
decrypted touches the disk. age authenticates every 64 KiB chunk, so a flipped bit stops the stream
at that chunk and a truncated file fails at its end; both, and a wrong identity, become
:class:`~k2p.errors.ArchiveInvalid` (exit 3) naming the file.

pyrage has no streaming interface for passphrases (``pyrage.passphrase`` works on whole byte
strings), so a passphrase-encrypted archive is encrypted and decrypted in memory, bounded by
:data:`~k2p.crypt.stream.PASSPHRASE_MAX_BYTES`; recipients (``--encrypt-to``) stream at any size.

Secrets: identities and passphrases are registered with :mod:`k2p.redaction` the moment they are
loaded and never appear in messages; recipients are public keys and may be printed.
"""
