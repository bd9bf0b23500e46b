"""Where is this point: its grid and units, the people to call, the cameras that see it; one point or millions."""
