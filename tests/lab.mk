# tests of the lab room.
