# tests of the stream room.
