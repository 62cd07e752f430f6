# tests of the dirty room.
