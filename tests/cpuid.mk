# tests of the cpuid room.
