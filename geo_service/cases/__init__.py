"""The closed loop of a case: recording, steps, responsibility, time limits, messages."""
