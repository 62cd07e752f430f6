# tests of the vGPU room.
