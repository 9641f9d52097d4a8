"""The k2p archive format: writer, reader, verification, packing."""
